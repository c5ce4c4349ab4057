"""Example values for the OpenAPI contract (Swagger UI, ReDoc, generated SDKs).

The crypto-shaped values are made by the real suite-v1 code from fixed,
published inputs, so every example has exactly the shape the server checks
(`tests/test_openapi_examples.py` validates each one against its schema, and
the EncStrings with `encstring.check_shape`). Nothing here is a secret: the
"keys" are hashes of a public phrase and the tokens are signed by no key a
server would accept.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from pydantic import ConfigDict

from vaultapi.crypto import encstring, srp

ACCOUNT_ID = "0b7c9f2e-3c1a-4d5e-9f60-7a8b9c0d1e2f"
ADMIN_ID = "6f1d2c3b-4a59-4e68-8f7a-0b1c2d3e4f50"
SESSION_ID = "3e2a8c4d-5b6f-4a70-8b91-c2d3e4f5a6b7"
OTHER_SESSION_ID = "8d7c6b5a-4f3e-4d2c-9b1a-0f9e8d7c6b5a"
HANDSHAKE_ID = "c5d6e7f8-0912-4a3b-8c4d-5e6f7a8b9c0d"
ITEM_ID = "1f0e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
FOLDER_ID = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"
SHARE_ID = "4c3b2a19-0807-4f6e-ad5c-4b3a29180706"
CEREMONY_ID = "7e6d5c4b-3a29-4180-b7f6-e5d4c3b2a190"
CREDENTIAL_ID = "2b3c4d5e-6f70-4819-a2b3-c4d5e6f7a8b9"
RULE_ID = "5d4c3b2a-1908-4f7e-8d6c-5b4a39281706"

EMAIL = "alice@example.com"
IP = "203.0.113.7"
USER_AGENT = "vaultapi-client/0.1 (python-httpx)"
CREATED_AT = "2026-11-02T09:14:07.481920Z"
UPDATED_AT = "2026-11-21T06:02:19.115973Z"
LATER = "2026-11-21T06:17:19.115973Z"
EXPIRES_AT = "2026-12-21T06:02:19.115973Z"

_PUBLIC_PHRASE = b"vaultapi OpenAPI example: public, not a secret"


def _bytes(label: str, length: int) -> bytes:
    """Deterministic bytes for `label`: reproducible examples, no randomness."""
    return hashlib.sha256(_PUBLIC_PHRASE + b"/" + label.encode()).digest()[:length]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _encstring(label: str, plaintext: bytes, aad: str) -> str:
    return encstring.encrypt(
        _bytes(label + "/key", encstring.KEY_BYTES),
        plaintext,
        aad,
        # A nonce of its own per example: never one nonce twice under a key.
        nonce=_bytes(f"{label}/{aad}/{plaintext.hex()}/nonce", encstring.NONCE_BYTES),
    )


KDF_SALT = _bytes("kdf-salt", 16).hex()
SRP_SALT = _bytes("srp-salt", 16).hex()
KDF: dict[str, Any] = {
    "algorithm": "argon2id",
    "memory_kib": 65536,
    "iterations": 3,
    "parallelism": 4,
    "salt": KDF_SALT,
}

_SRP_PASSWORD = _bytes("auth-key", 32).hex()
_CLIENT_START = srp.client_start(private_a=int.from_bytes(_bytes("a", 32), "big"))
_VERIFIER = srp.compute_verifier(EMAIL, _SRP_PASSWORD, bytes.fromhex(SRP_SALT))
_CHALLENGE = srp.server_challenge(_VERIFIER, private_b=int.from_bytes(_bytes("b", 32), "big"))
_PROOF = srp.client_proof(
    EMAIL, _SRP_PASSWORD, bytes.fromhex(SRP_SALT), _CLIENT_START, _CHALLENGE.public_B
)
VERIFIER = srp.encode_int(_VERIFIER)
CLIENT_PUBLIC_A = srp.encode_int(_CLIENT_START.public_A)
SERVER_PUBLIC_B = srp.encode_int(_CHALLENGE.public_B)
M1 = _PROOF.M1.hex()
M2 = _PROOF.expected_M2.hex()

PROTECTED_ACCOUNT_KEY = _encstring("wrap", _bytes("account-key", 32), "vaultapi/v1/account-key")
PROTECTED_PRIVATE_KEY = _encstring("account", _bytes("private-key", 32), "vaultapi/v1/private-key")
PUBLIC_KEY = _b64url(_bytes("public-key", 32))
ACCOUNT_KEYS: dict[str, Any] = {
    "protected_account_key": PROTECTED_ACCOUNT_KEY,
    "public_key": PUBLIC_KEY,
    "protected_private_key": PROTECTED_PRIVATE_KEY,
}

ITEM_KEY = _encstring("account", _bytes("item-key", 32), ITEM_ID)
ITEM_DATA = _encstring(
    "item",
    json.dumps(
        {"name": "Example login", "uri": "https://example.com", "username": EMAIL},
        sort_keys=True,
        separators=(",", ":"),
    ).encode(),
    ITEM_ID,
)
FOLDER_NAME = _encstring("account", b"Work", FOLDER_ID)
SHARE_CIPHERTEXT = _encstring("share", b"The wifi passphrase is in the blue binder", SHARE_ID)
ACCESS_PROOF = _bytes("access-proof", 32).hex()

KID = _b64url(_bytes("kid", 32))
ACCESS_TOKEN = ".".join(
    [
        _b64url(json.dumps({"alg": "EdDSA", "kid": KID}).encode()),
        _b64url(
            json.dumps(
                {
                    "iss": "vaultapi",
                    "aud": "vaultapi",
                    "sub": ACCOUNT_ID,
                    "sid": SESSION_ID,
                    "jti": _bytes("jti", 16).hex(),
                    "iat": 1795154539,
                    "exp": 1795155439,
                    "role": "user",
                }
            ).encode()
        ),
        _b64url(_bytes("signature", 32) * 2),
    ]
)
REFRESH_TOKEN = "vrt_" + _b64url(_bytes("refresh-token", 32))
MFA_TOKEN = "vmt_" + _b64url(_bytes("mfa-token", 32))
TOTP_SECRET = base64.b32encode(_bytes("totp-secret", 20)).decode("ascii")
RECOVERY_CODES = [
    "-".join(code[i : i + 4] for i in range(0, 16, 4))
    for code in (
        base64.b32encode(_bytes(f"recovery-code-{n}", 10)).decode("ascii").lower() for n in range(3)
    )
]


def example_config(example: dict[str, Any]) -> ConfigDict:
    """A model's `model_config` carrying one example (JSON Schema `examples`).

    pydantic merges it with the parent's config (`extra="forbid"` stays), but
    `json_schema_extra` itself is inherited: every model sets its own, or it
    would show its parent's example, which lacks its fields."""
    return ConfigDict(json_schema_extra={"examples": [example]})
