"""EncString, suite v1: `v1.<base64url(nonce)>.<base64url(ciphertext || tag)>`.

- AES-256-GCM, 12-byte random nonce, 16-byte tag appended to the ciphertext
  (the layout `cryptography`'s AESGCM produces).
- The associated data is the UTF-8 encoding of a caller-given string (an item
  id, or "vaultapi/v1/account-key"): a ciphertext moved to another slot fails
  authentication.
- base64url (RFC 4648 section 5) without '=' padding, and canonical: the
  unused low bits of the last character must be zero, so every byte string
  has exactly one accepted encoding.

The server never decrypts: it calls `check_shape`, which looks at the shape
and size only.
"""

from __future__ import annotations

import base64
import re
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vaultapi.crypto import CryptoError, _require_bytes, _utf8

VERSION = "v1"
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16

_B64URL = re.compile(r"[A-Za-z0-9_-]*")


class EncStringError(CryptoError):
    """A malformed EncString, or one that fails authentication."""


def encrypt(key: bytes, plaintext: bytes, aad: str, *, nonce: bytes | None = None) -> str:
    """Encrypt under a 32-byte key. `nonce` is for test vectors only: never reuse one."""
    aead = AESGCM(_require_bytes(key, length=KEY_BYTES, name="key", error=EncStringError))
    if not isinstance(plaintext, bytes):
        raise EncStringError("plaintext must be bytes")
    if nonce is None:
        nonce = secrets.token_bytes(NONCE_BYTES)
    _require_bytes(nonce, length=NONCE_BYTES, name="nonce", error=EncStringError)
    body = aead.encrypt(nonce, plaintext, _utf8(aad, name="aad", error=EncStringError))
    return f"{VERSION}.{_b64encode(nonce)}.{_b64encode(body)}"


def decrypt(key: bytes, value: str, aad: str) -> bytes:
    """Decrypt and authenticate; `EncStringError` on a bad shape, wrong key, wrong aad or tamper."""
    aead = AESGCM(_require_bytes(key, length=KEY_BYTES, name="key", error=EncStringError))
    nonce, body = _parse(value)
    try:
        return aead.decrypt(nonce, body, _utf8(aad, name="aad", error=EncStringError))
    except InvalidTag:
        raise EncStringError(
            "EncString failed authentication (wrong key, wrong aad, or altered ciphertext)"
        ) from None


def check_shape(value: str, *, max_length: int) -> None:
    """Server side: accept only a well-formed v1 EncString of at most `max_length` characters.

    Checks the length before anything else, so an oversized value costs
    nothing to reject.
    """
    if not isinstance(value, str):
        raise EncStringError("an EncString must be a string")
    if len(value) > max_length:
        raise EncStringError(f"EncString is longer than {max_length} characters")
    _parse(value)


def _parse(value: object) -> tuple[bytes, bytes]:
    if not isinstance(value, str):
        raise EncStringError("an EncString must be a string")
    parts = value.split(".")
    if len(parts) != 3:
        raise EncStringError("an EncString has three '.'-separated parts: v1.<nonce>.<ciphertext>")
    version, nonce_text, body_text = parts
    if version != VERSION:
        raise EncStringError(f"unsupported EncString version (expected {VERSION!r})")
    nonce = _b64decode(nonce_text, name="nonce")
    body = _b64decode(body_text, name="ciphertext")
    if len(nonce) != NONCE_BYTES:
        raise EncStringError(f"EncString nonce must be exactly {NONCE_BYTES} bytes")
    if len(body) < TAG_BYTES:
        raise EncStringError(f"EncString ciphertext is shorter than the {TAG_BYTES}-byte tag")
    return nonce, body


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str, *, name: str) -> bytes:
    """Strict unpadded base64url: alphabet only, no '=', valid length, canonical last char."""
    if _B64URL.fullmatch(text) is None:
        raise EncStringError(
            f"EncString {name} is not unpadded base64url (A-Z a-z 0-9 - _ only, no '=')"
        )
    if len(text) % 4 == 1:
        raise EncStringError(f"EncString {name} has an impossible base64 length")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64encode(data) != text:
        raise EncStringError(f"EncString {name} is not canonical base64url")
    return data
