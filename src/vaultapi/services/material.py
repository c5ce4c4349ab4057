"""Checks on the client-made key material an account carries: KDF parameters,
the SRP verifier and wrapped keys. Shared by registration and the changes
to an account, so both refuse the same things with the same 4xx."""

from __future__ import annotations

from vaultapi.crypto import CryptoError, encstring, srp
from vaultapi.crypto.kdf import KdfParams, check_kdf_params
from vaultapi.errors import InvalidKeyMaterial, InvalidSRPValue, WeakKdfParameters
from vaultapi.schemas import auth as schemas

ENC_STRING_MAX = 256
"""A wrapped 32-byte key, or an X25519 private key, is far below this."""


def parse_kdf(kdf: schemas.KdfParameters) -> KdfParams:
    params = KdfParams(
        memory_kib=kdf.memory_kib, iterations=kdf.iterations, parallelism=kdf.parallelism
    )
    try:
        check_kdf_params(params)
    except CryptoError as exc:
        raise WeakKdfParameters(str(exc)) from exc
    return params


def parse_verifier(value: str) -> bytes:
    try:
        return srp.parse_group_element(value, name="verifier").to_bytes(srp.N_BYTES, "big")
    except CryptoError as exc:
        raise InvalidSRPValue(str(exc)) from exc


def verifier_powers(verifier: bytes) -> bytes:
    """What an account stores with a verifier that `parse_verifier` accepted
    (`srp.verifier_powers`: for verify's v^u; about 0.7 ms)."""
    return srp.verifier_powers(int.from_bytes(verifier, "big"))


def check_enc_string(name: str, value: str) -> None:
    try:
        encstring.check_shape(value, max_length=ENC_STRING_MAX)
    except CryptoError as exc:
        raise InvalidKeyMaterial(f"{name}: {exc}") from exc
