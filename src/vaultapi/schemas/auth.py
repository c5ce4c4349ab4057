"""Requests and responses of `/v1/auth`: registration, prelogin, SRP, tokens.

Encodings (docs/protocol.md says it byte for byte): salts are lowercase hex;
SRP group elements (verifier, A, B) are lowercase hex zero-padded to 768
characters; proofs are 64 lowercase hex characters; EncStrings are
`v1.<b64url nonce>.<b64url ciphertext+tag>`; the X25519 public key is
base64url without padding. The server checks shapes and ranges; it never
sees anything it could decrypt.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from vaultapi.schemas import examples as ex
from vaultapi.schemas.examples import example_config

HEX_SALT = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
HEX_ELEMENT = Annotated[str, StringConstraints(min_length=768, max_length=768)]
"""Range and alphabet are checked by `crypto.srp.parse_group_element`."""
HEX_PROOF = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
ENC_STRING = Annotated[str, StringConstraints(min_length=40, max_length=256)]
"""Shape checked by `crypto.encstring.check_shape`."""
PUBLIC_KEY = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{43}$")]
NO_CONTROL_CHARACTERS = r"^[^\x00-\x1f\x7f]*$"
EMAIL = Annotated[
    str, StringConstraints(min_length=3, max_length=254, pattern=NO_CONTROL_CHARACTERS)
]
DEVICE_NAME = Annotated[str, StringConstraints(max_length=128, pattern=NO_CONTROL_CHARACTERS)]


_TOKENS = {
    "token_type": "Bearer",
    "access_token": ex.ACCESS_TOKEN,
    "expires_in": 900,
    "refresh_token": ex.REFRESH_TOKEN,
    "session_id": ex.SESSION_ID,
}
_LOGIN = {**_TOKENS, "account_id": ex.ACCOUNT_ID, "keys": ex.ACCOUNT_KEYS}
_SESSION = {
    "id": ex.SESSION_ID,
    "device_name": "Alice's laptop",
    "created_at": ex.CREATED_AT,
    "last_used_at": ex.UPDATED_AT,
    "last_auth_at": ex.CREATED_AT,
    "created_ip": ex.IP,
    "last_ip": ex.IP,
    "expires_at": ex.EXPIRES_AT,
    "current": True,
}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KdfParameters(Strict):
    model_config = example_config(ex.KDF)

    algorithm: Literal["argon2id"] = "argon2id"
    memory_kib: int = Field(description="Argon2id memory in KiB (≥ 19456)")
    iterations: int = Field(description="Argon2id passes (≥ 2)")
    parallelism: int = Field(description="Argon2id lanes (≥ 1)")
    salt: HEX_SALT = Field(description="16 random bytes, hex")


class SRPRegistration(Strict):
    model_config = example_config({"salt": ex.SRP_SALT, "verifier": ex.VERIFIER})

    salt: HEX_SALT = Field(description="16 random bytes, hex")
    verifier: HEX_ELEMENT = Field(description="v = g^x mod N, 768 hex characters")


class AccountKeys(Strict):
    model_config = example_config(ex.ACCOUNT_KEYS)

    protected_account_key: ENC_STRING = Field(
        description="EncString of the account key under wrap_key, aad `vaultapi/v1/account-key`"
    )
    public_key: PUBLIC_KEY = Field(description="X25519 public key, base64url, 32 bytes")
    protected_private_key: ENC_STRING = Field(
        description="EncString of the X25519 private key under the account key"
    )


class RegisterRequest(Strict):
    model_config = example_config(
        {
            "email": ex.EMAIL,
            "kdf": ex.KDF,
            "srp": {"salt": ex.SRP_SALT, "verifier": ex.VERIFIER},
            "keys": ex.ACCOUNT_KEYS,
        }
    )

    email: EMAIL
    kdf: KdfParameters
    srp: SRPRegistration
    keys: AccountKeys


class RegisterResponse(BaseModel):
    model_config = example_config({"account_id": ex.ACCOUNT_ID, "email": ex.EMAIL})

    account_id: uuid.UUID
    email: str = Field(description="The normalized e-mail: the SRP identity")


class PreloginRequest(Strict):
    model_config = example_config({"email": ex.EMAIL})

    email: EMAIL


class PreloginResponse(BaseModel):
    model_config = example_config({"kdf": ex.KDF})

    kdf: KdfParameters


class SRPStartRequest(Strict):
    model_config = example_config({"email": ex.EMAIL, "A": ex.CLIENT_PUBLIC_A})

    email: EMAIL
    A: HEX_ELEMENT = Field(description="Client public ephemeral, 768 hex characters")


class SRPStartResponse(BaseModel):
    model_config = example_config(
        {
            "handshake_id": ex.HANDSHAKE_ID,
            "kdf": ex.KDF,
            "srp_salt": ex.SRP_SALT,
            "B": ex.SERVER_PUBLIC_B,
            "expires_in": 60,
        }
    )

    handshake_id: uuid.UUID
    kdf: KdfParameters = Field(
        description="The same answer as prelogin: A does not depend on the password, so a "
        "client can start here and save a round trip"
    )
    srp_salt: str = Field(description="The account's SRP salt, hex")
    B: str = Field(description="Server public ephemeral, 768 hex characters")
    expires_in: int = Field(description="Seconds left to send the proof")


class SRPVerifyRequest(Strict):
    model_config = example_config(
        {"handshake_id": ex.HANDSHAKE_ID, "M1": ex.M1, "device_name": "Alice's laptop"}
    )

    handshake_id: uuid.UUID
    M1: HEX_PROOF = Field(description="Client proof")
    device_name: DEVICE_NAME = ""


class TokenPair(BaseModel):
    model_config = example_config(_TOKENS)

    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the OAuth token type name
    access_token: str
    expires_in: int = Field(description="Access token lifetime in seconds")
    refresh_token: str = Field(description="Opaque; single use: each refresh returns a new one")
    session_id: uuid.UUID


class LoginResponse(TokenPair):
    model_config = example_config(_LOGIN)

    account_id: uuid.UUID
    keys: AccountKeys


class SRPVerifyResponse(LoginResponse):
    model_config = example_config({**_LOGIN, "M2": ex.M2})

    M2: str = Field(description="Server proof: verify it before trusting this server")


class RefreshRequest(Strict):
    model_config = example_config({"refresh_token": ex.REFRESH_TOKEN})

    refresh_token: Annotated[str, StringConstraints(max_length=64)]


class SessionInfo(BaseModel):
    model_config = example_config(_SESSION)

    id: uuid.UUID
    device_name: str
    created_at: datetime
    last_used_at: datetime
    last_auth_at: datetime
    created_ip: str
    last_ip: str
    expires_at: datetime
    current: bool = Field(description="The session this request was made with")


class SessionList(BaseModel):
    model_config = example_config(
        {
            "sessions": [
                _SESSION,
                {
                    **_SESSION,
                    "id": ex.OTHER_SESSION_ID,
                    "device_name": "Phone",
                    "created_ip": "198.51.100.23",
                    "last_ip": "198.51.100.23",
                    "current": False,
                },
            ]
        }
    )

    sessions: list[SessionInfo]


class RevokedCount(BaseModel):
    model_config = example_config({"revoked": 2})

    revoked: int


class AccountInfo(BaseModel):
    model_config = example_config(
        {
            "id": ex.ACCOUNT_ID,
            "email": ex.EMAIL,
            "role": "user",
            "created_at": ex.CREATED_AT,
            "kdf": ex.KDF,
            "keys": ex.ACCOUNT_KEYS,
        }
    )

    id: uuid.UUID
    email: str
    role: str
    created_at: datetime
    kdf: KdfParameters
    keys: AccountKeys


class JWKS(BaseModel):
    model_config = example_config(
        {
            "keys": [
                {
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": ex.PUBLIC_KEY,
                    "kid": ex.KID,
                    "alg": "EdDSA",
                    "use": "sig",
                }
            ]
        }
    )

    keys: list[dict[str, str]]


class ChangePasswordRequest(Strict):
    """Everything derived from the password, replaced in one request. Item
    ciphertexts are untouched: only the account key's wrapping changes."""

    model_config = example_config(
        {
            "kdf": ex.KDF,
            "srp": {"salt": ex.SRP_SALT, "verifier": ex.VERIFIER},
            "protected_account_key": ex.PROTECTED_ACCOUNT_KEY,
        }
    )

    kdf: KdfParameters
    srp: SRPRegistration
    protected_account_key: ENC_STRING = Field(
        description="The same account key, wrapped under the new password's wrap_key"
    )


class ChangeEmailRequest(Strict):
    """The SRP identity is the e-mail, so the verifier changes with it."""

    model_config = example_config(
        {
            "email": "alice.smith@example.com",
            "srp": {"salt": ex.SRP_SALT, "verifier": ex.VERIFIER},
        }
    )

    email: EMAIL
    srp: SRPRegistration
