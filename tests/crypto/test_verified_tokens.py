"""The per-process memo of verified access tokens (`VerifiedTokens`): a repeat
skips the signature check but never the expiry, and only good tokens are kept."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vaultapi.crypto.tokens import TokenError, TokenKeys, VerifiedTokens, issue_access_token
from vaultapi.db.types import utcnow

KEYS = TokenKeys("EdDSA", ed25519=Ed25519PrivateKey.generate())


def token(ttl: timedelta = timedelta(minutes=5), keys: TokenKeys = KEYS) -> str:
    issued, _ = issue_access_token(
        keys,
        account_id=uuid.uuid4(),
        session_id=uuid.uuid4(),
        role="user",
        issuer="vaultapi",
        audience="vaultapi",
        ttl=ttl,
        now=utcnow(),
    )
    return issued


def memo(max_entries: int = 4096) -> VerifiedTokens:
    return VerifiedTokens(KEYS, issuer="vaultapi", audience="vaultapi", max_entries=max_entries)


def test_a_remembered_token_is_refused_once_it_expires() -> None:
    verified, good = memo(), token(ttl=timedelta(seconds=60))
    claims = verified.verify(good, utcnow())
    assert verified.verify(good, utcnow()) is claims  # the repeat comes from the memo
    # 5 s of leeway, as PyJWT gives a token it decodes
    assert verified.verify(good, claims.expires_at + timedelta(seconds=4)) is claims
    with pytest.raises(TokenError, match="expired"):
        verified.verify(good, claims.expires_at + timedelta(seconds=5))
    assert good not in verified._claims  # forgotten: a later use is verified in full again


def test_refused_tokens_are_not_remembered() -> None:
    verified = memo()
    forged = token(keys=TokenKeys("EdDSA", ed25519=Ed25519PrivateKey.generate()))
    for _ in range(2):
        with pytest.raises(TokenError):
            verified.verify(forged, utcnow())
    good = token()
    tampered = good[:-2] + ("AA" if good[-2:] != "AA" else "BB")
    verified.verify(good, utcnow())
    with pytest.raises(TokenError):
        verified.verify(tampered, utcnow())


def test_the_memo_is_bounded() -> None:
    verified = memo(max_entries=3)
    tokens = [token() for _ in range(5)]
    for each in tokens:
        verified.verify(each, utcnow())
    assert len(verified._claims) == 3
    assert list(verified._claims) == tokens[2:]  # the oldest went first
