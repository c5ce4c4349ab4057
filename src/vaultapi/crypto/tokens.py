"""Access tokens (JWT) and refresh tokens: pure functions, keys passed in.

Access token: a JWT signed with Ed25519 (`EdDSA`, the default) or HMAC-SHA256
(`HS256`), with claims `iss aud sub sid jti iat exp role` and the signing
key's `kid` in the header. Verification pins the one configured algorithm (so
`alg: none` and algorithm confusion are refused), picks the key by `kid`
among the accepted ones (an unknown `kid` is refused), and requires every claim.

Refresh token: `vrt_` + 32 random bytes, base64url. The server stores only
its SHA-256: the token is 256 bits of randomness, so a slow hash adds nothing.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

Algorithm = Literal["EdDSA", "HS256"]
REFRESH_TOKEN_PREFIX = "vrt_"  # noqa: S105 - a format prefix, not a secret
MFA_TOKEN_PREFIX = "vmt_"  # noqa: S105 - a format prefix, not a secret
_REFRESH_TOKEN_BYTES = 32
_REQUIRED_CLAIMS = ["iss", "aud", "sub", "sid", "jti", "iat", "exp"]
_LEEWAY_SECONDS = 5


class TokenError(ValueError):
    """A token that must not be accepted: malformed, forged, expired, or not ours."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _ed25519_jwk(public_key: Ed25519PublicKey) -> dict[str, str]:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw)}


def _thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638 thumbprint: the key's `kid`."""
    canonical = json.dumps(jwk, sort_keys=True, separators=(",", ":")).encode()
    return _b64url(hashlib.sha256(canonical).digest())


def hmac_kid(secret: bytes) -> str:
    """A name for an HS256 key: a domain-separated hash, truncated. It reveals
    nothing a token's own HMAC does not already let an attacker test offline."""
    return _b64url(hashlib.sha256(b"vaultapi/hs256-kid\x00" + secret).digest()[:16])


@dataclass(frozen=True, repr=False)
class TokenKeys:
    """The one key tokens are signed with, and every key they are verified with.

    Each token names its key in the `kid` header. Verification accepts the
    signing key and the `accepted_*` keys (a previous key after a rotation,
    until its tokens have expired, or the next one while a rotation rolls out
    across machines); any other `kid` is refused."""

    algorithm: Algorithm
    ed25519: Ed25519PrivateKey | None = None
    hmac_secret: bytes | None = None
    accepted_public_keys: tuple[Ed25519PublicKey, ...] = ()
    accepted_secrets: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        if self.algorithm == "EdDSA" and self.ed25519 is None:
            raise ValueError("EdDSA needs an Ed25519 private key")
        if self.algorithm == "HS256" and not self.hmac_secret:
            raise ValueError("HS256 needs a secret")

    @property
    def public_jwk(self) -> dict[str, str] | None:
        if self.ed25519 is None or self.algorithm != "EdDSA":
            return None
        return _ed25519_jwk(self.ed25519.public_key())

    @functools.cached_property
    def kid(self) -> str:
        """The signing key's id: RFC 7638 thumbprint (EdDSA) or `hmac_kid` (HS256)."""
        jwk = self.public_jwk
        if jwk is not None:
            return _thumbprint(jwk)
        assert self.hmac_secret is not None  # noqa: S101 - checked in __post_init__
        return hmac_kid(self.hmac_secret)

    def _signing_key(self) -> Any:
        return self.ed25519 if self.algorithm == "EdDSA" else self.hmac_secret

    def verification_keys(self) -> dict[str, Any]:
        """kid -> key, the signing key first."""
        if self.algorithm == "EdDSA":
            assert self.ed25519 is not None  # noqa: S101 - checked in __post_init__
            keys = {self.kid: self.ed25519.public_key()}
            for public in self.accepted_public_keys:
                keys.setdefault(_thumbprint(_ed25519_jwk(public)), public)
            return keys
        assert self.hmac_secret is not None  # noqa: S101 - checked in __post_init__
        secrets_by_kid: dict[str, Any] = {self.kid: self.hmac_secret}
        for secret in self.accepted_secrets:
            secrets_by_kid.setdefault(hmac_kid(secret), secret)
        return secrets_by_kid

    def public_jwks(self) -> list[dict[str, str]]:
        """Every EdDSA verification key as a JWK (none for HS256: they are secret)."""
        if self.algorithm != "EdDSA":
            return []
        return [
            {**_ed25519_jwk(key), "kid": kid, "alg": "EdDSA", "use": "sig"}
            for kid, key in self.verification_keys().items()
        ]


@dataclass(frozen=True)
class AccessClaims:
    account_id: uuid.UUID
    session_id: uuid.UUID
    role: str
    token_id: str
    issued_at: datetime
    expires_at: datetime


def issue_access_token(
    keys: TokenKeys,
    *,
    account_id: uuid.UUID,
    session_id: uuid.UUID,
    role: str,
    issuer: str,
    audience: str,
    ttl: timedelta,
    now: datetime,
) -> tuple[str, datetime]:
    expires_at = now + ttl
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": str(account_id),
        "sid": str(session_id),
        "jti": uuid.uuid4().hex,
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
        "role": role,
    }
    token = jwt.encode(
        claims, keys._signing_key(), algorithm=keys.algorithm, headers={"kid": keys.kid}
    )
    return token, expires_at


def verify_access_token(keys: TokenKeys, token: str, *, issuer: str, audience: str) -> AccessClaims:
    if len(token) > 4096:
        raise TokenError("token too long")
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        candidates = keys.verification_keys()
        if kid is None:
            key = candidates[keys.kid]  # tokens from before kids were sent: the signing key
        elif not isinstance(kid, str) or kid not in candidates:
            raise TokenError("token signed by an unknown key")
        else:
            key = candidates[kid]
        claims = jwt.decode(
            token,
            key,
            algorithms=[keys.algorithm],
            audience=audience,
            issuer=issuer,
            leeway=_LEEWAY_SECONDS,
            options={"require": _REQUIRED_CLAIMS, "verify_signature": True},
        )
        return AccessClaims(
            account_id=uuid.UUID(str(claims["sub"])),
            session_id=uuid.UUID(str(claims["sid"])),
            role=str(claims.get("role", "user")),
            token_id=str(claims["jti"]),
            issued_at=datetime.fromtimestamp(int(claims["iat"]), UTC),
            expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
        )
    except TokenError:
        raise
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("token expired") from exc
    except (jwt.PyJWTError, ValueError, TypeError, KeyError, OverflowError) as exc:
        raise TokenError("invalid token") from exc


class VerifiedTokens:
    """Access tokens this process has already verified, with their claims.

    Verifying a JWT (base64, JSON, the Ed25519 signature, every claim) is the
    largest single cost of an authenticated read. Within its few minutes of
    life, a client sends the same token string again and again, and a string
    whose signature and claims were good once is still good, but for time: so
    a repeat only has its expiry checked again, exactly as PyJWT checks it
    (`exp` plus the same leeway). Only accepted tokens are remembered; the
    memo is bounded (oldest entries go first) and lives per process, keyed by
    the whole token string. Revocation is unaffected: the session row is still
    read on every request.
    """

    def __init__(self, keys: TokenKeys, *, issuer: str, audience: str, max_entries: int = 4096):
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.max_entries = max_entries
        self._claims: dict[str, AccessClaims] = {}

    def verify(self, token: str, now: datetime) -> AccessClaims:
        claims = self._claims.get(token)
        if claims is None:
            claims = verify_access_token(
                self.keys, token, issuer=self.issuer, audience=self.audience
            )
            if len(self._claims) >= self.max_entries:
                del self._claims[next(iter(self._claims))]
            self._claims[token] = claims
        elif now.timestamp() >= claims.expires_at.timestamp() + _LEEWAY_SECONDS:
            del self._claims[token]
            raise TokenError("token expired")
        return claims


def jwks(keys: TokenKeys) -> dict[str, list[dict[str, str]]]:
    return {"keys": keys.public_jwks()}


def new_refresh_token() -> str:
    return REFRESH_TOKEN_PREFIX + _b64url(secrets.token_bytes(_REFRESH_TOKEN_BYTES))


def refresh_token_hash(token: str) -> bytes:
    """SHA-256 of a well-formed refresh token; TokenError for anything else."""
    return _opaque_token_hash(token, REFRESH_TOKEN_PREFIX, "refresh token")


def new_mfa_token() -> str:
    """The token of a login waiting for its second factor (stored by hash)."""
    return MFA_TOKEN_PREFIX + _b64url(secrets.token_bytes(_REFRESH_TOKEN_BYTES))


def mfa_token_hash(token: str) -> bytes:
    return _opaque_token_hash(token, MFA_TOKEN_PREFIX, "mfa_token")


def _opaque_token_hash(token: str, prefix: str, name: str) -> bytes:
    body = token.removeprefix(prefix)
    if body == token or len(body) != 43 or not body.isascii():
        raise TokenError(f"malformed {name}")
    return hashlib.sha256(token.encode()).digest()
