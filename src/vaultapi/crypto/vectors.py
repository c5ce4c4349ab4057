"""Deterministic test vectors for the whole v1 suite.

`generate()` runs every step of the suite, from the e-mail and password to the
SRP proofs and the EncStrings, on fixed inputs, through the same functions the
server and the reference client use. A third-party client that reproduces
every value is compatible.

Regenerate the committed file with:

    python -m vaultapi.crypto.vectors docs/vectors

The encoding of the values is described by `ENCODING` (also in the file).
"""

from __future__ import annotations

import hashlib
import json
import sys
import uuid
from pathlib import Path
from typing import Any

from vaultapi.crypto import encstring, kdf, srp
from vaultapi.crypto import share as share_crypto

FILE_NAME = f"{kdf.SUITE}.json"
ENCODING = (
    "Byte strings are lowercase hex. SRP group elements and exponents (N, verifier, a, b, A, B, "
    "S) are PAD-ed to 768 lowercase hex characters. Hash outputs used as numbers (k, x, u) are "
    "their 64-hex digests. h_n_xor_h_g and h_i are the MIN-encoded (leading zero bytes dropped) "
    "M1 inputs exactly as hashed. See vaultapi/crypto/srp.py for PAD, MIN and the formulas."
)

# Fixed inputs. The e-mail shows normalization (case, trailing space); the
# password shows NFKC: U+FB01 LATIN SMALL LIGATURE FI -> "fi", U+212B ANGSTROM
# SIGN -> U+00C5, and "e" + U+0301 COMBINING ACUTE -> U+00E9.
EMAIL = "Alice@Example.com "
PASSWORD = "correct horse \ufb01sh \u212bngstr\u00f6m cafe\u0301"  # noqa: S105 - a test vector
KDF_PARAMS = kdf.MINIMUM_KDF
KDF_SALT = bytes(range(16))
SRP_SALT = bytes.fromhex("00f1e2d3c4b5a6978877665544332211")  # leading zero byte kept as is
ACCOUNT_KEY = bytes(range(0x20, 0x40))
ITEM_KEY = bytes(range(0x40, 0x60))
ITEM_ID = "6f1c5d1e-0b7a-4c59-9a43-0d4f2b6e8a10"
ITEM = {
    "name": "Example",
    "password": "hunter2",
    "type": "login",
    "uri": "https://example.com/login",
    "username": "alice",
}
ACCOUNT_KEY_AAD = "vaultapi/v1/account-key"
NONCE_ACCOUNT_KEY = bytes.fromhex("a0a1a2a3a4a5a6a7a8a9aaab")
NONCE_ITEM_KEY = bytes.fromhex("b0b1b2b3b4b5b6b7b8b9babb")
NONCE_ITEM_DATA = bytes.fromhex("c0c1c2c3c4c5c6c7c8c9cacb")

# Time-limited shares. The passphrase shows NFKC too (U+FB01 -> "fi").
SHARE_ID = "3f0b2c4e-8d1a-4e6f-9b7c-2a5d8e1f4c3b"
SHARE_KEY = bytes(range(0x60, 0x80))
SHARE_SECRET = "hunter2 \u2713"  # noqa: S105 - a test vector
SHARE_PASSPHRASE = "\ufb01ve red tulips"  # noqa: S105 - a test vector
SHARE_BASE_URL = "https://vault.example.com"
NONCE_SHARE_PLAIN = bytes.fromhex("d0d1d2d3d4d5d6d7d8d9dadb")
NONCE_SHARE_PROTECTED = bytes.fromhex("e0e1e2e3e4e5e6e7e8e9eaeb")


def _fixed_exponent(label: str) -> int:
    """A 256-bit ephemeral secret anyone can recompute: SHA-256 of a label."""
    return int.from_bytes(hashlib.sha256(label.encode("ascii")).digest(), "big")


PRIVATE_A = _fixed_exponent("vaultapi/v1/test-vector/a")
PRIVATE_B = _fixed_exponent("vaultapi/v1/test-vector/b")


def item_plaintext() -> bytes:
    """The item as compact JSON with sorted keys, UTF-8."""
    return json.dumps(ITEM, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _min_bytes(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")


def _digest_hex(value: int) -> str:
    return format(value, "064x")


def _kdf_vectors() -> tuple[dict[str, Any], str, kdf.Subkeys]:
    identity = kdf.normalize_email(EMAIL)
    master_key = kdf.derive_master_key(PASSWORD, KDF_SALT, KDF_PARAMS)
    subkeys = kdf.derive_subkeys(master_key)
    section = {
        "email": EMAIL,
        "identity": identity,
        "password": PASSWORD,
        "password_nfkc_utf8": kdf.password_bytes(PASSWORD).hex(),
        "params": {
            "algorithm": KDF_PARAMS.algorithm,
            "memory_kib": KDF_PARAMS.memory_kib,
            "iterations": KDF_PARAMS.iterations,
            "parallelism": KDF_PARAMS.parallelism,
        },
        "kdf_salt": KDF_SALT.hex(),
        "master_key": master_key.hex(),
        "auth_key": subkeys.auth_key.hex(),
        "wrap_key": subkeys.wrap_key.hex(),
    }
    return section, identity, subkeys


def _srp_vectors(identity: str, password: str) -> dict[str, Any]:
    group = srp._V1
    hash_func = group.hash_func
    verifier = srp.compute_verifier(identity, password, SRP_SALT)
    start = srp.client_start(private_a=PRIVATE_A)
    challenge = srp.server_challenge(verifier, private_b=PRIVATE_B)
    proof = srp.client_proof(identity, password, SRP_SALT, start, challenge.public_B)
    m2 = srp.server_verify(identity, SRP_SALT, verifier, start.public_A, challenge, proof.M1)
    session = srp._client_session(
        group, identity, password, SRP_SALT, PRIVATE_A, start.public_A, challenge.public_B
    )
    k = int.from_bytes(hash_func(_min_bytes(srp.N) + _pad(srp.G)).digest(), "big")
    h_n = int.from_bytes(hash_func(_min_bytes(srp.N)).digest(), "big")
    h_g = int.from_bytes(hash_func(_min_bytes(srp.G)).digest(), "big")
    h_i = int.from_bytes(hash_func(identity.encode("utf-8")).digest(), "big")
    return {
        "N": format(srp.N, f"0{srp.HEX_WIDTH}x"),
        "g": srp.G,
        "hash": "sha256",
        "I": identity,
        "P": password,
        "srp_salt": SRP_SALT.hex(),
        "k": _digest_hex(k),
        "x": _digest_hex(srp._password_hash(group, identity, password, SRP_SALT)),
        "verifier": srp.encode_int(verifier),
        "a": srp.encode_int(PRIVATE_A),
        "b": srp.encode_int(PRIVATE_B),
        "A": srp.encode_int(start.public_A),
        "B": srp.encode_int(challenge.public_B),
        "u": _digest_hex(session.u),
        "S": srp.encode_int(session.premaster_secret),
        "K": proof.session_key.hex(),
        "h_n_xor_h_g": _min_bytes(h_n ^ h_g).hex(),
        "h_i": _min_bytes(h_i).hex(),
        "M1": proof.M1.hex(),
        "M2": m2.hex(),
    }


def _pad(value: int) -> bytes:
    return value.to_bytes(srp.N_BYTES, "big")


def _encstring_vectors(wrap_key: bytes) -> dict[str, Any]:
    plaintext = item_plaintext()
    return {
        "account_key": ACCOUNT_KEY.hex(),
        "protected_account_key": {
            "key": "wrap_key",
            "aad": ACCOUNT_KEY_AAD,
            "nonce": NONCE_ACCOUNT_KEY.hex(),
            "plaintext": ACCOUNT_KEY.hex(),
            "value": encstring.encrypt(
                wrap_key, ACCOUNT_KEY, ACCOUNT_KEY_AAD, nonce=NONCE_ACCOUNT_KEY
            ),
        },
        "item_id": ITEM_ID,
        "item_key": ITEM_KEY.hex(),
        "item_key_wrapped": {
            "key": "account_key",
            "aad": ITEM_ID,
            "nonce": NONCE_ITEM_KEY.hex(),
            "plaintext": ITEM_KEY.hex(),
            "value": encstring.encrypt(ACCOUNT_KEY, ITEM_KEY, ITEM_ID, nonce=NONCE_ITEM_KEY),
        },
        "item_data": {
            "key": "item_key",
            "aad": ITEM_ID,
            "nonce": NONCE_ITEM_DATA.hex(),
            "plaintext": plaintext.hex(),
            "plaintext_text": plaintext.decode("utf-8"),
            "value": encstring.encrypt(ITEM_KEY, plaintext, ITEM_ID, nonce=NONCE_ITEM_DATA),
        },
    }


def _share_vectors() -> dict[str, Any]:
    share_id = uuid.UUID(SHARE_ID)
    secret = SHARE_SECRET.encode("utf-8")
    plain = share_crypto.derive_keys(SHARE_KEY)
    protected = share_crypto.derive_keys(SHARE_KEY, SHARE_PASSPHRASE)
    assert protected.access_proof is not None  # noqa: S101 - a passphrase gives a proof
    kdf_params = share_crypto.SHARE_KDF
    return {
        "share_id": SHARE_ID,
        "share_key": SHARE_KEY.hex(),
        "base_url": SHARE_BASE_URL,
        "secret": SHARE_SECRET,
        "secret_utf8": secret.hex(),
        "plain": {
            "enc_key": plain.enc_key.hex(),
            "nonce": NONCE_SHARE_PLAIN.hex(),
            "ciphertext": share_crypto.seal(plain, share_id, secret, nonce=NONCE_SHARE_PLAIN),
            "link": share_crypto.make_link(SHARE_BASE_URL, share_id, SHARE_KEY, protected=False),
        },
        "protected": {
            "passphrase": SHARE_PASSPHRASE,
            "passphrase_nfkc_utf8": kdf.password_bytes(SHARE_PASSPHRASE).hex(),
            "params": {
                "algorithm": kdf_params.algorithm,
                "memory_kib": kdf_params.memory_kib,
                "iterations": kdf_params.iterations,
                "parallelism": kdf_params.parallelism,
            },
            "salt": share_crypto.passphrase_salt(SHARE_KEY).hex(),
            "pass_key": share_crypto.passphrase_key(SHARE_KEY, SHARE_PASSPHRASE).hex(),
            "enc_key": protected.enc_key.hex(),
            "access_proof": protected.access_proof.hex(),
            "nonce": NONCE_SHARE_PROTECTED.hex(),
            "ciphertext": share_crypto.seal(
                protected, share_id, secret, nonce=NONCE_SHARE_PROTECTED
            ),
            "link": share_crypto.make_link(SHARE_BASE_URL, share_id, SHARE_KEY, protected=True),
        },
    }


def generate() -> dict[str, Any]:
    """Every intermediate value of suite v1 on the fixed inputs above."""
    kdf_section, identity, subkeys = _kdf_vectors()
    password = kdf.srp_password(subkeys.auth_key)
    return {
        "suite": kdf.SUITE,
        "encoding": ENCODING,
        "kdf": kdf_section,
        "srp": _srp_vectors(identity, password),
        "encstring": _encstring_vectors(subkeys.wrap_key),
        "share": _share_vectors(),
    }


def render(vectors: dict[str, Any]) -> str:
    """The committed file's exact text: indent 2, sorted keys, ASCII, trailing newline."""
    return json.dumps(vectors, indent=2, sort_keys=True) + "\n"


def write(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / FILE_NAME
    path.write_text(render(generate()), encoding="utf-8")
    return path


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python -m vaultapi.crypto.vectors DIRECTORY\n")
        return 2
    path = write(Path(argv[0]))
    sys.stderr.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
