"""What a running app holds between requests: settings, keys, database handles.

Built by the lifespan at start and stored on `app.state.runtime`. Nothing in
it is per-user state: any worker can serve any request.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from vaultapi.config import Settings
from vaultapi.crypto.tokens import TokenKeys, VerifiedTokens
from vaultapi.server_keys import ServerKeys
from vaultapi.services.ip_rules import IPRuleCache


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    keys: ServerKeys
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    schema_heads: frozenset[str]
    token_keys: TokenKeys
    verified_tokens: VerifiedTokens = field(init=False)
    """Access tokens this worker has verified (see `VerifiedTokens`)."""
    ip_rules: IPRuleCache = field(init=False)
    """The operator's IP rules as this worker last read them."""

    def __post_init__(self) -> None:
        auth = self.settings.auth
        tokens = VerifiedTokens(self.token_keys, issuer=auth.issuer, audience=auth.audience)
        object.__setattr__(self, "verified_tokens", tokens)
        ip_rules = IPRuleCache(self.settings.admin.ip_rules_cache_seconds)
        object.__setattr__(self, "ip_rules", ip_rules)


def token_keys_from(keys: ServerKeys) -> TokenKeys:
    return TokenKeys(
        algorithm=keys.jwt_algorithm,
        ed25519=keys.jwt_private_key,
        hmac_secret=keys.jwt_secret,
        accepted_public_keys=keys.accepted_public_keys,
        accepted_secrets=keys.accepted_secrets,
    )
