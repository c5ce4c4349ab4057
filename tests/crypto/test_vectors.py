"""docs/vectors/v1.json: current, and reproducible through the client and server functions."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from argon2.low_level import Type, hash_secret_raw
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tests.crypto.test_kdf import _rfc5869_hkdf_sha256
from tests.crypto.test_srp import reference_handshake
from vaultapi.crypto import encstring, kdf, srp, vectors
from vaultapi.crypto import share as share_crypto

VECTOR_FILE = Path(__file__).resolve().parents[2] / "docs" / "vectors" / "v1.json"
REGENERATE = ".venv/bin/python -m vaultapi.crypto.vectors docs/vectors"


@pytest.fixture(scope="module")
def generated() -> dict[str, Any]:
    return vectors.generate()


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(VECTOR_FILE.read_text(encoding="utf-8"))
    return data


def test_committed_file_is_current(generated: dict[str, Any]) -> None:
    assert VECTOR_FILE.is_file(), f"{VECTOR_FILE} is missing: run `{REGENERATE}`"
    text = VECTOR_FILE.read_text(encoding="utf-8")
    assert text == vectors.render(generated), f"{VECTOR_FILE} is stale: run `{REGENERATE}`"
    assert text.endswith("}\n")
    assert text.isascii()


def test_command_line_writes_the_same_file(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "vaultapi.crypto.vectors", str(tmp_path)], check=True, timeout=60
    )
    assert (tmp_path / "v1.json").read_text(encoding="utf-8") == VECTOR_FILE.read_text(
        encoding="utf-8"
    )


def test_generation_is_deterministic(generated: dict[str, Any]) -> None:
    assert vectors.generate() == generated


def test_inputs_show_normalization(committed: dict[str, Any]) -> None:
    section = committed["kdf"]
    assert section["email"] != section["identity"] == "alice@example.com"
    assert kdf.normalize_email(section["email"]) == section["identity"]
    password = section["password"]
    assert not unicodedata.is_normalized("NFKC", password)
    assert bytes.fromhex(section["password_nfkc_utf8"]) == unicodedata.normalize(
        "NFKC", password
    ).encode("utf-8")
    assert section["params"] == {
        "algorithm": "argon2id",
        "memory_kib": kdf.MINIMUM_KDF.memory_kib,
        "iterations": kdf.MINIMUM_KDF.iterations,
        "parallelism": kdf.MINIMUM_KDF.parallelism,
    }


def test_kdf_values_reproduce(committed: dict[str, Any]) -> None:
    section = committed["kdf"]
    params = kdf.KdfParams(**section["params"])
    salt = bytes.fromhex(section["kdf_salt"])
    master_key = bytes.fromhex(section["master_key"])
    assert kdf.derive_master_key(section["password"], salt, params) == master_key
    # The same with argon2-cffi called directly on the NFKC bytes:
    assert master_key == hash_secret_raw(
        bytes.fromhex(section["password_nfkc_utf8"]),
        salt,
        time_cost=params.iterations,
        memory_cost=params.memory_kib,
        parallelism=params.parallelism,
        hash_len=32,
        type=Type.ID,
        version=0x13,
    )
    subkeys = kdf.derive_subkeys(master_key)
    assert subkeys.auth_key.hex() == section["auth_key"]
    assert subkeys.wrap_key.hex() == section["wrap_key"]
    assert _rfc5869_hkdf_sha256(master_key, b"vaultapi/v1/auth").hex() == section["auth_key"]
    assert _rfc5869_hkdf_sha256(master_key, b"vaultapi/v1/wrap").hex() == section["wrap_key"]
    assert kdf.srp_password(subkeys.auth_key) == committed["srp"]["P"]


def test_srp_values_have_the_wire_encoding(committed: dict[str, Any]) -> None:
    section = committed["srp"]
    for name in ("N", "verifier", "a", "b", "A", "B", "S"):
        assert len(section[name]) == srp.HEX_WIDTH, name
    for name in ("verifier", "A", "B"):
        value = srp.parse_group_element(section[name], name=name)
        assert srp.encode_int(value) == section[name]
    for name in ("M1", "M2"):
        assert srp.parse_proof(section[name]).hex() == section[name]
    assert int(section["N"], 16) == srp.N
    assert section["g"] == srp.G


def test_srp_values_round_trip_through_client_and_server(committed: dict[str, Any]) -> None:
    section = committed["srp"]
    identity, password = section["I"], section["P"]
    salt = bytes.fromhex(section["srp_salt"])
    verifier = srp.parse_group_element(section["verifier"], name="verifier")
    assert srp.compute_verifier(identity, password, salt) == verifier

    start = srp.client_start(private_a=int(section["a"], 16))
    assert srp.encode_int(start.public_A) == section["A"]
    challenge = srp.server_challenge(verifier, private_b=int(section["b"], 16))
    assert srp.encode_int(challenge.public_B) == section["B"]

    # Each side works from what it received on the wire.
    public_b = srp.parse_group_element(section["B"], name="B")
    proof = srp.client_proof(identity, password, salt, start, public_b)
    assert proof.M1.hex() == section["M1"]
    assert proof.session_key.hex() == section["K"]
    public_a = srp.parse_group_element(section["A"], name="A")
    m1 = srp.parse_proof(section["M1"])
    m2 = srp.server_verify(identity, salt, verifier, public_a, challenge, m1)
    assert m2.hex() == section["M2"]
    srp.verify_server_proof(proof, srp.parse_proof(section["M2"]))


def test_srp_values_match_the_documented_formulas(committed: dict[str, Any]) -> None:
    section = committed["srp"]
    ref = reference_handshake(
        section["I"],
        section["P"],
        bytes.fromhex(section["srp_salt"]),
        int(section["a"], 16),
        int(section["b"], 16),
    )
    for name in ("k", "x", "u"):
        assert format(ref[name], "064x") == section[name], name
    assert srp.encode_int(ref["v"]) == section["verifier"]
    for name in ("A", "B", "S"):
        assert srp.encode_int(ref[name]) == section[name], name
    for name in ("K", "M1", "M2", "h_i", "h_n_xor_h_g"):
        assert ref[name].hex() == section[name], name


def _aes_gcm_open(key_hex: str, entry: dict[str, Any]) -> bytes:
    """Decrypt an EncString without the module: split, base64url-decode, AES-GCM."""
    version, nonce_text, body_text = entry["value"].split(".")
    assert version == "v1"
    nonce = base64.urlsafe_b64decode(nonce_text + "=" * (-len(nonce_text) % 4))
    body = base64.urlsafe_b64decode(body_text + "=" * (-len(body_text) % 4))
    assert nonce.hex() == entry["nonce"]
    return AESGCM(bytes.fromhex(key_hex)).decrypt(nonce, body, entry["aad"].encode("utf-8"))


def test_encstrings_decrypt(committed: dict[str, Any]) -> None:
    section = committed["encstring"]
    keys = {
        "wrap_key": committed["kdf"]["wrap_key"],
        "account_key": section["account_key"],
        "item_key": section["item_key"],
    }
    assert section["protected_account_key"]["aad"] == "vaultapi/v1/account-key"
    assert section["item_key_wrapped"]["aad"] == section["item_data"]["aad"] == section["item_id"]
    for name in ("protected_account_key", "item_key_wrapped", "item_data"):
        entry = section[name]
        key = bytes.fromhex(keys[entry["key"]])
        encstring.check_shape(entry["value"], max_length=len(entry["value"]))
        plaintext = encstring.decrypt(key, entry["value"], entry["aad"])
        assert plaintext.hex() == entry["plaintext"], name
        assert _aes_gcm_open(keys[entry["key"]], entry) == plaintext, name
        nonce = bytes.fromhex(entry["nonce"])
        assert encstring.encrypt(key, plaintext, entry["aad"], nonce=nonce) == entry["value"]
    assert section["protected_account_key"]["plaintext"] == section["account_key"]
    assert section["item_key_wrapped"]["plaintext"] == section["item_key"]
    item = bytes.fromhex(section["item_data"]["plaintext"])
    assert item.decode("utf-8") == section["item_data"]["plaintext_text"]
    assert json.loads(item) == vectors.ITEM


def test_share_vectors_open_through_the_link(committed: dict[str, Any]) -> None:
    v = committed["share"]
    secret = bytes.fromhex(v["secret_utf8"])
    assert secret.decode("utf-8") == v["secret"]
    for case, passphrase in (("plain", None), ("protected", v["protected"]["passphrase"])):
        link = share_crypto.parse_link(v[case]["link"])
        assert (str(link.share_id), link.share_key.hex()) == (v["share_id"], v["share_key"])
        assert link.protected is (passphrase is not None)
        keys = share_crypto.derive_keys(link.share_key, passphrase)
        assert keys.enc_key.hex() == v[case]["enc_key"]
        assert share_crypto.unseal(keys, link.share_id, v[case]["ciphertext"]) == secret
    assert v["protected"]["access_proof"] == (
        share_crypto.derive_keys(
            bytes.fromhex(v["share_key"]), v["protected"]["passphrase"]
        ).access_proof.hex()  # type: ignore[union-attr]
    )
    assert v["plain"]["ciphertext"] != v["protected"]["ciphertext"]
