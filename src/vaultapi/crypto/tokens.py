"""Access tokens (JWT) and refresh tokens: pure functions, keys passed in.

Access token: a JWT signed with Ed25519 (`EdDSA`, the default) or HMAC-SHA256
(`HS256`), with claims `iss aud sub sid jti iat exp role`. Verification pins
the one configured algorithm (so `alg: none` and algorithm confusion are
refused), and requires every claim.

Refresh token: `vrt_` + 32 random bytes, base64url. The server stores only
its SHA-256: the token is 256 bits of randomness, so a slow hash adds nothing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

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


@dataclass(frozen=True, repr=False)
class TokenKeys:
    algorithm: Algorithm
    ed25519: Ed25519PrivateKey | None = None
    hmac_secret: bytes | None = None

    def __post_init__(self) -> None:
        if self.algorithm == "EdDSA" and self.ed25519 is None:
            raise ValueError("EdDSA needs an Ed25519 private key")
        if self.algorithm == "HS256" and not self.hmac_secret:
            raise ValueError("HS256 needs a secret")

    @property
    def public_jwk(self) -> dict[str, str] | None:
        if self.ed25519 is None or self.algorithm != "EdDSA":
            return None
        raw = self.ed25519.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw)}

    @property
    def kid(self) -> str | None:
        """RFC 7638 thumbprint of the public key (None for HS256)."""
        jwk = self.public_jwk
        if jwk is None:
            return None
        canonical = json.dumps(jwk, sort_keys=True, separators=(",", ":")).encode()
        return _b64url(hashlib.sha256(canonical).digest())

    def _signing_key(self) -> Any:
        return self.ed25519 if self.algorithm == "EdDSA" else self.hmac_secret

    def _verifying_key(self) -> Any:
        if self.algorithm == "EdDSA":
            assert self.ed25519 is not None  # noqa: S101 - checked in __post_init__
            return self.ed25519.public_key()
        return self.hmac_secret


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
    headers = {"kid": keys.kid} if keys.kid else None
    token = jwt.encode(claims, keys._signing_key(), algorithm=keys.algorithm, headers=headers)
    return token, expires_at


def verify_access_token(keys: TokenKeys, token: str, *, issuer: str, audience: str) -> AccessClaims:
    if len(token) > 4096:
        raise TokenError("token too long")
    try:
        claims = jwt.decode(
            token,
            keys._verifying_key(),
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
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("token expired") from exc
    except (jwt.PyJWTError, ValueError, TypeError, KeyError, OverflowError) as exc:
        raise TokenError("invalid token") from exc


def jwks(keys: TokenKeys) -> dict[str, list[dict[str, str]]]:
    jwk = keys.public_jwk
    if jwk is None:
        return {"keys": []}
    return {"keys": [{**jwk, "kid": keys.kid or "", "alg": "EdDSA", "use": "sig"}]}


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
