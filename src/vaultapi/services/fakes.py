"""Deterministic stand-ins for accounts that do not exist.

`prelogin` and `srp/start` must answer an unknown e-mail the way they answer a
real one: same shape, same work. The fake KDF salt, SRP salt and verifier are
derived from the e-mail under the server secret (HKDF-SHA256), so repeated
questions get the same answers (a random answer each time would give the
game away) and nobody without the secret can tell them from real values.
The fake verifier is a pseudo-random group element: it never leaves the
server, and B = k·v + g^b computed from it is as uniform as a real one.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from vaultapi.crypto import srp
from vaultapi.crypto.kdf import DEFAULT_KDF, KDF_SALT_BYTES, KdfParams


def _derive(server_secret: bytes, purpose: str, identity: str, length: int) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=length,
        salt=None,
        info=f"vaultapi/fake/{purpose}\x00{identity}".encode(),
    ).derive(server_secret)


@dataclass(frozen=True)
class FakeAccount:
    kdf: KdfParams
    kdf_salt: bytes
    srp_salt: bytes
    verifier: int


def fake_kdf_salt(server_secret: bytes, identity: str) -> bytes:
    return _derive(server_secret, "kdf-salt", identity, KDF_SALT_BYTES)


def fake_account(server_secret: bytes, identity: str) -> FakeAccount:
    wide = int.from_bytes(_derive(server_secret, "verifier", identity, srp.N_BYTES + 32), "big")
    verifier = 2 + wide % (srp.N - 3)  # in [2, N-2]: a valid-looking group element
    return FakeAccount(
        kdf=DEFAULT_KDF,
        kdf_salt=fake_kdf_salt(server_secret, identity),
        srp_salt=_derive(server_secret, "srp-salt", identity, srp.SRP_SALT_BYTES),
        verifier=verifier,
    )
