"""The v1 cryptographic suite, shared by the server and the reference client.

Pure functions only: bytes, ints and str in and out, no I/O, no framework.

- `kdf`: password -> Argon2id master key -> HKDF-SHA256 sub-keys.
- `srp`: SRP-6a (RFC 5054 3072-bit group, SHA-256) on top of srptools.
- `encstring`: the `v1.<nonce>.<ciphertext>` AES-256-GCM string format.
- `vectors`: deterministic test vectors for the whole suite.

Every error raised on bad input is a `CryptoError` (a `ValueError`), so the
server can map it to a 4xx answer without catching anything broader.
"""

from __future__ import annotations


class CryptoError(ValueError):
    """Bad input to, or failed verification in, the crypto suite."""


def _require_bytes(
    value: object, *, length: int, name: str, error: type[CryptoError] = CryptoError
) -> bytes:
    """Return `value` if it is `bytes` of exactly `length`; raise `error` otherwise."""
    if not isinstance(value, bytes):
        raise error(f"{name} must be bytes")
    if len(value) != length:
        raise error(f"{name} must be exactly {length} bytes")
    return value


def _utf8(value: object, *, name: str, error: type[CryptoError] = CryptoError) -> bytes:
    """UTF-8 bytes of a str; lone surrogates (not encodable) are an `error`, not a crash."""
    if not isinstance(value, str):
        raise error(f"{name} must be a string")
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:
        raise error(f"{name} is not valid Unicode text (lone surrogate)") from None


__all__ = ["CryptoError"]
