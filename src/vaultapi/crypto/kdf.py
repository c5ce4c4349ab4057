"""Suite v1 key derivation: password -> master key -> sub-keys.

```
master_key = Argon2id(NFKC(password) as UTF-8, kdf_salt, t, m, p, length 32, version 0x13)
auth_key   = HKDF-SHA256(ikm=master_key, salt=None, info=b"vaultapi/v1/auth", length=32)
wrap_key   = HKDF-SHA256(ikm=master_key, salt=None, info=b"vaultapi/v1/wrap", length=32)
P (SRP)    = lowercase hex of auth_key
```

`auth_key` is what the server can test guesses against (through the SRP
verifier); `wrap_key` never leaves the client. HKDF with distinct `info`
labels keeps the two independent, so knowing one says nothing about the other.

The KDF parameters come from the server at prelogin. The client calls
`check_kdf_params` before deriving anything: a malicious server must not be
able to downgrade the work factor (minimum), nor make the client allocate
unbounded memory or spin forever (maximum).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from argon2.exceptions import HashingError
from argon2.low_level import ARGON2_VERSION, Type, hash_secret_raw
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from vaultapi.crypto import CryptoError, _require_bytes, _utf8

SUITE = "v1"

KDF_SALT_BYTES = 16
MASTER_KEY_BYTES = 32
SUBKEY_BYTES = 32
AUTH_INFO = b"vaultapi/v1/auth"
WRAP_INFO = b"vaultapi/v1/wrap"
EMAIL_MAX_LENGTH = 254
"""RFC 5321's practical limit on a forward path, counted after normalization."""


class KdfParamsError(CryptoError):
    """KDF parameters outside what suite v1 accepts."""


@dataclass(frozen=True)
class KdfParams:
    memory_kib: int
    iterations: int
    parallelism: int
    algorithm: Literal["argon2id"] = "argon2id"


DEFAULT_KDF = KdfParams(memory_kib=65536, iterations=3, parallelism=4)
MINIMUM_KDF = KdfParams(memory_kib=19456, iterations=2, parallelism=1)  # OWASP
MAXIMUM_KDF = KdfParams(memory_kib=4_194_304, iterations=64, parallelism=16)  # DoS on clients

_NUMERIC_FIELDS = ("memory_kib", "iterations", "parallelism")
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f]")
"""Unicode's category Cc, all of it (a fixed set: C0, DEL and C1; a test
checks it against `unicodedata`)."""


def check_kdf_params(params: KdfParams) -> None:
    """Raise `KdfParamsError` naming the first field outside [MINIMUM_KDF, MAXIMUM_KDF].

    Messages never echo the offending value: it may be an arbitrarily large
    int, and formatting one can itself raise.
    """
    if not isinstance(params, KdfParams):
        raise KdfParamsError("KDF parameters must be a KdfParams")
    if params.algorithm != "argon2id":
        raise KdfParamsError("KDF algorithm must be 'argon2id' in suite v1")
    for field in _NUMERIC_FIELDS:
        value = getattr(params, field)
        low = getattr(MINIMUM_KDF, field)
        high = getattr(MAXIMUM_KDF, field)
        if not isinstance(value, int) or isinstance(value, bool):
            raise KdfParamsError(f"KDF {field} must be an integer")
        if value < low:
            raise KdfParamsError(f"KDF {field} is below the minimum of {low}")
        if value > high:
            raise KdfParamsError(f"KDF {field} is above the maximum of {high}")


def normalize_email(email: str) -> str:
    """The SRP identity: NFKC, then strip surrounding whitespace, then lower-case.

    Raises `CryptoError` if the result is empty, longer than 254 characters,
    has no '@', contains a control character (NUL and friends cannot be
    stored, and have no place in an address), or cannot be encoded as UTF-8
    (lone surrogates).
    """
    if not isinstance(email, str):
        raise CryptoError("email must be a string")
    normalized = unicodedata.normalize("NFKC", email).strip().lower()
    if not normalized:
        raise CryptoError("email is empty")
    if len(normalized) > EMAIL_MAX_LENGTH:
        raise CryptoError(f"email is longer than {EMAIL_MAX_LENGTH} characters")
    if "@" not in normalized:
        raise CryptoError("email has no '@'")
    if _CONTROL_CHARACTER.search(normalized):
        raise CryptoError("email contains a control character")
    _utf8(normalized, name="email")
    return normalized


def password_bytes(password: str) -> bytes:
    """The Argon2id input: NFKC-normalized password as UTF-8.

    NFKC makes the same password typed on different keyboards or platforms
    (composed vs decomposed accents, ligatures, full-width forms) derive the
    same key.
    """
    if not isinstance(password, str):
        raise CryptoError("password must be a string")
    return _utf8(unicodedata.normalize("NFKC", password), name="password")


def derive_master_key(password: str, kdf_salt: bytes, params: KdfParams) -> bytes:
    """Argon2id master key (32 bytes). Checks the parameters and the salt first."""
    check_kdf_params(params)
    salt = _require_bytes(kdf_salt, length=KDF_SALT_BYTES, name="kdf_salt")
    return _argon2id(password_bytes(password), salt, params)


def _argon2id(secret: bytes, salt: bytes, params: KdfParams) -> bytes:
    """Raw Argon2id v0x13, no parameter policy: the reference vectors go through here."""
    try:
        return hash_secret_raw(
            secret,
            salt,
            time_cost=params.iterations,
            memory_cost=params.memory_kib,
            parallelism=params.parallelism,
            hash_len=MASTER_KEY_BYTES,
            type=Type.ID,
            version=ARGON2_VERSION,
        )
    except HashingError as exc:
        raise CryptoError(f"Argon2id failed: {exc}") from exc


@dataclass(frozen=True)
class Subkeys:
    auth_key: bytes
    wrap_key: bytes


def derive_subkeys(master_key: bytes) -> Subkeys:
    """Split the master key into the SRP authentication key and the key-wrapping key."""
    ikm = _require_bytes(master_key, length=MASTER_KEY_BYTES, name="master_key")
    return Subkeys(auth_key=_hkdf(ikm, AUTH_INFO), wrap_key=_hkdf(ikm, WRAP_INFO))


def _hkdf(ikm: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=SHA256(), length=SUBKEY_BYTES, salt=None, info=info).derive(ikm)


def srp_password(auth_key: bytes) -> str:
    """SRP's password P: the lowercase hex of auth_key (64 characters)."""
    return _require_bytes(auth_key, length=SUBKEY_BYTES, name="auth_key").hex()
