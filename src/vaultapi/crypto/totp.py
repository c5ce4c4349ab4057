"""TOTP (RFC 6238) for the second factor, on pyotp: SHA-1, 6 digits, 30 s —
the parameters every authenticator app understands.

The server keeps each account's secret sealed (AES-256-GCM, an EncString)
under a key derived from the server secret by HKDF, with the account id as
associated data: a copy of the database alone yields no TOTP secrets, and a
sealed secret moved to another account does not open.
"""

from __future__ import annotations

import hmac
import re
import uuid
from datetime import datetime

import pyotp
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from vaultapi.crypto import encstring

DIGITS = 6
PERIOD_SECONDS = 30
SECRET_BYTES = 20
"""160 bits, the size RFC 4226 recommends for HMAC-SHA-1."""
_CODE = re.compile(r"[0-9]{6}")
_SEAL_INFO = b"vaultapi/v1/totp-seal"


def new_secret() -> str:
    """A fresh base32 secret (what authenticator apps are given)."""
    return pyotp.random_base32(length=SECRET_BYTES * 8 // 5)


def provisioning_uri(secret: str, *, account_name: str, issuer: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD_SECONDS).provisioning_uri(
        name=account_name, issuer_name=issuer
    )


def normalize_code(code: str) -> str | None:
    """Digits only (spaces allowed between groups, as apps show them); None if not a code."""
    compact = code.replace(" ", "")
    return compact if _CODE.fullmatch(compact) else None


def matching_step(secret: str, code: str, *, now: datetime, drift_steps: int) -> int | None:
    """The time step, within `drift_steps` of `now`, whose code is `code`; None
    if none. Every candidate is compared (in constant time) whatever matched."""
    normalized = normalize_code(code)
    if normalized is None:
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD_SECONDS)
    current = totp.timecode(now)
    found: int | None = None
    for offset in range(-drift_steps, drift_steps + 1):
        step = current + offset
        if hmac.compare_digest(totp.generate_otp(step), normalized) and found is None:
            found = step
    return found


def code_at(secret: str, when: datetime) -> str:
    """The code an authenticator shows at `when` (for clients and tests)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD_SECONDS).at(when)


def _seal_key(server_secret: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=encstring.KEY_BYTES, salt=None, info=_SEAL_INFO
    ).derive(server_secret)


def _seal_aad(account_id: uuid.UUID) -> str:
    return f"vaultapi/v1/totp/{account_id}"


def seal_secret(server_secret: bytes, account_id: uuid.UUID, secret: str) -> str:
    return encstring.encrypt(_seal_key(server_secret), secret.encode(), _seal_aad(account_id))


def open_secret(server_secret: bytes, account_id: uuid.UUID, sealed: str) -> str:
    """Raises `EncStringError` when the server secret changed or the row was moved."""
    return encstring.decrypt(_seal_key(server_secret), sealed, _seal_aad(account_id)).decode()
