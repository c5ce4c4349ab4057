"""Deterministic stand-ins for accounts that do not exist.

`prelogin` and `srp/start` must answer an unknown e-mail the way they answer a
real one: same shape, same work. The fake KDF salt, SRP salt and verifier are
derived from the e-mail under the server secret (HKDF-SHA256), so repeated
questions get the same answers (a random answer each time would give the
game away) and nobody without the secret can tell them from real values.
The fake verifier is a pseudo-random group element: it never leaves the
server, and B = k·v + g^b computed from it is as uniform as a real one.

There is one fake verifier per deployment, not one per e-mail: a real
account's v^u at verify comes from powers of v stored with it
(`vaultapi.crypto.comb`), and the fake path must do the same work. Powers of
one fake verifier are computed once per process (`prepare_fakes`); powers of
a fake per e-mail would cost each unknown e-mail's verify 0.7 ms more than a
real one's, a difference that a timing attack could see. Nothing else tells
two fake verifiers apart: v only ever enters B, where g^b hides it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from vaultapi.crypto import srp
from vaultapi.crypto.kdf import DEFAULT_KDF, KDF_SALT_BYTES, KdfParams


def _hkdf(server_secret: bytes, info: str, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info.encode()).derive(
        server_secret
    )


def _derive(server_secret: bytes, purpose: str, identity: str, length: int) -> bytes:
    return _hkdf(server_secret, f"vaultapi/fake/{purpose}\x00{identity}", length)


@dataclass(frozen=True)
class FakeAccount:
    kdf: KdfParams
    kdf_salt: bytes
    srp_salt: bytes
    verifier: int
    verifier_powers: bytes
    """`srp.verifier_powers(verifier)`, as a real account stores them."""


def fake_kdf_salt(server_secret: bytes, identity: str) -> bytes:
    return _derive(server_secret, "kdf-salt", identity, KDF_SALT_BYTES)


@functools.lru_cache(maxsize=4)
def _fake_verifier(server_secret: bytes) -> tuple[int, bytes]:
    """The deployment's fake verifier and its stored powers (once per process
    and server secret: about 0.7 ms)."""
    wide = int.from_bytes(_hkdf(server_secret, "vaultapi/fake/verifier", srp.N_BYTES + 32), "big")
    verifier = 2 + wide % (srp.N - 3)  # in [2, N-2]: a valid-looking group element
    return verifier, srp.verifier_powers(verifier)


def prepare_fakes(server_secret: bytes) -> None:
    """Compute the fake verifier's powers now, so that no request pays for them."""
    _fake_verifier(server_secret)


def fake_account(server_secret: bytes, identity: str) -> FakeAccount:
    verifier, powers = _fake_verifier(server_secret)
    return FakeAccount(
        kdf=DEFAULT_KDF,
        kdf_salt=fake_kdf_salt(server_secret, identity),
        srp_salt=_derive(server_secret, "srp-salt", identity, srp.SRP_SALT_BYTES),
        verifier=verifier,
        verifier_powers=powers,
    )
