"""Share crypto: keys, proof, ciphertext binding and the link format."""

from __future__ import annotations

import uuid

import pytest

from vaultapi.crypto import CryptoError, encstring
from vaultapi.crypto import share as share_crypto

SHARE_ID = uuid.UUID("0b9f3e57-2f44-4d8e-9a1c-5a6b7c8d9e0f")
KEY = bytes(range(32))


def test_plain_and_protected_keys_differ_and_only_protected_has_a_proof() -> None:
    plain = share_crypto.derive_keys(KEY)
    protected = share_crypto.derive_keys(KEY, "pass")
    assert plain.access_proof is None
    assert protected.access_proof is not None
    assert len(protected.access_proof) == 32
    assert plain.enc_key != protected.enc_key
    assert protected.enc_key != protected.access_proof
    assert share_crypto.derive_keys(KEY, "pass") == protected
    assert share_crypto.derive_keys(KEY, "Pass") != protected
    assert share_crypto.derive_keys(bytes(32), "pass") != protected


def test_the_passphrase_is_nfkc_normalized() -> None:
    assert share_crypto.derive_keys(KEY, "caf\u00e9") == share_crypto.derive_keys(KEY, "cafe\u0301")


def test_a_ciphertext_opens_only_under_its_own_id_and_key() -> None:
    keys = share_crypto.derive_keys(KEY)
    sealed = share_crypto.seal(keys, SHARE_ID, b"hunter2")
    assert share_crypto.unseal(keys, SHARE_ID, sealed) == b"hunter2"
    with pytest.raises(encstring.EncStringError):
        share_crypto.unseal(keys, uuid.uuid4(), sealed)
    with pytest.raises(encstring.EncStringError):
        share_crypto.unseal(share_crypto.derive_keys(KEY, "x"), SHARE_ID, sealed)
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(encstring.EncStringError):
        share_crypto.unseal(keys, SHARE_ID, flipped)


@pytest.mark.parametrize("protected", [False, True])
@pytest.mark.parametrize("base", ["https://vault.example.com", "http://127.0.0.1:8000/vault/"])
def test_links_round_trip(base: str, protected: bool) -> None:
    link = share_crypto.make_link(base, SHARE_ID, KEY, protected=protected)
    assert "#v1." in link
    assert link.endswith(".p") is protected
    parsed = share_crypto.parse_link(link)
    assert parsed == share_crypto.ShareLink(base.rstrip("/"), SHARE_ID, KEY, protected)


@pytest.mark.parametrize(
    "link",
    [
        "ftp://h/v1/shares/0b9f3e57-2f44-4d8e-9a1c-5a6b7c8d9e0f#v1." + "A" * 43,
        "https://h/v1/shares/0b9f3e57-2f44-4d8e-9a1c-5a6b7c8d9e0f",
        "https://h/v1/shares/0b9f3e57-2f44-4d8e-9a1c-5a6b7c8d9e0f#v1." + "A" * 42,
        "https://h/v1/shares/0b9f3e57-2f44-4d8e-9a1c-5a6b7c8d9e0f#v2." + "A" * 43,
        "https://h/v1/shares/0b9f3e57-2f44-4d8e-9a1c-5a6b7c8d9e0f#v1." + "A" * 43 + ".x",
        "https://h/v1/shares/0b9f3e57-2f44-4d8e-9a1c-5a6b7c8d9e0f#v1." + "A" * 42 + "B",
        "https://h/v1/shares/0B9F3E57-2F44-4D8E-9A1C-5A6B7C8D9E0F#v1." + "A" * 43,
        "https://h/v1/shares/not-a-uuid#v1." + "A" * 43,
        "https://h/v1/items/0b9f3e57-2f44-4d8e-9a1c-5a6b7c8d9e0f#v1." + "A" * 43,
        "https://h/v1/shares/0b9f3e57-2f44-4d8e-9a1c-5a6b7c8d9e0f?x=1#v1." + "A" * 43,
        # urlsplit raises ValueError on these (found by test_properties.py)
        "https://[::1/v1/shares/0b9f3e57-2f44-4d8e-9a1c-5a6b7c8d9e0f#v1." + "A" * 43,
        "https://h:99999/v1/shares/0b9f3e57-2f44-4d8e-9a1c-5a6b7c8d9e0f#v1." + "A" * 43,
    ],
)
def test_bad_links_are_refused(link: str) -> None:
    with pytest.raises(share_crypto.ShareLinkError):
        share_crypto.parse_link(link)


def test_bad_inputs_are_crypto_errors() -> None:
    with pytest.raises(CryptoError):
        share_crypto.derive_keys(bytes(31))
    with pytest.raises(CryptoError):
        share_crypto.derive_keys(KEY, "")
    with pytest.raises(CryptoError):
        share_crypto.derive_keys(KEY, "\ud800")
