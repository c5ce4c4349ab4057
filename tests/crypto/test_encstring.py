"""EncString v1: AES-256-GCM in a strict `v1.<nonce>.<ciphertext>` base64url shape."""

from __future__ import annotations

import base64
import contextlib
import re

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from vaultapi.crypto import CryptoError
from vaultapi.crypto.encstring import EncStringError, check_shape, decrypt, encrypt

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
NONCE = bytes(range(12))
SHAPE = re.compile(r"v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22,}")
MAX = 10_000

keys = st.binary(min_size=32, max_size=32)
aads = st.text(st.characters(codec="utf-8"), max_size=40)
plaintexts = st.binary(max_size=200)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _raw(value: str) -> bytes:
    """nonce || ciphertext || tag, decoded independently of the module."""
    _, nonce, body = value.split(".")
    return _unb64(nonce) + _unb64(body)


def _from_raw(raw: bytes) -> str:
    return f"v1.{_b64(raw[:12])}.{_b64(raw[12:])}"


def test_format_is_aes_256_gcm_with_utf8_aad() -> None:
    value = encrypt(KEY, b"secret", "item-\u00e9", nonce=NONCE)
    assert SHAPE.fullmatch(value)
    assert "=" not in value
    raw = _raw(value)
    assert raw[:12] == NONCE
    assert raw[12:] == AESGCM(KEY).encrypt(NONCE, b"secret", "item-\u00e9".encode())
    assert len(raw) == 12 + len(b"secret") + 16


def test_random_nonce_by_default() -> None:
    first, second = encrypt(KEY, b"x", "aad"), encrypt(KEY, b"x", "aad")
    assert first != second
    assert decrypt(KEY, first, "aad") == decrypt(KEY, second, "aad") == b"x"


def test_empty_plaintext_and_empty_aad() -> None:
    value = encrypt(KEY, b"", "")
    check_shape(value, max_length=MAX)
    assert decrypt(KEY, value, "") == b""


@settings(max_examples=50, database=None)
@given(key=keys, plaintext=plaintexts, aad=aads)
def test_round_trip(key: bytes, plaintext: bytes, aad: str) -> None:
    value = encrypt(key, plaintext, aad)
    check_shape(value, max_length=len(value))
    assert decrypt(key, value, aad) == plaintext


@settings(max_examples=50, database=None)
@given(key=keys, plaintext=plaintexts, aad=aads, data=st.data())
def test_any_flipped_byte_is_detected(
    key: bytes, plaintext: bytes, aad: str, data: st.DataObject
) -> None:
    raw = bytearray(_raw(encrypt(key, plaintext, aad)))
    position = data.draw(st.integers(0, len(raw) - 1), label="position")  # nonce, body or tag
    raw[position] ^= data.draw(st.integers(1, 255), label="mask")
    tampered = _from_raw(bytes(raw))
    check_shape(tampered, max_length=MAX)  # still well-formed: only authentication can tell
    with pytest.raises(EncStringError, match="authentication"):
        decrypt(key, tampered, aad)


@settings(max_examples=25, database=None)
@given(key=keys, other=keys, plaintext=plaintexts, aad=aads, other_aad=aads)
def test_wrong_key_or_aad_is_detected(
    key: bytes, other: bytes, plaintext: bytes, aad: str, other_aad: str
) -> None:
    value = encrypt(key, plaintext, aad)
    if other != key:
        with pytest.raises(EncStringError, match="authentication"):
            decrypt(other, value, aad)
    if other_aad != aad:
        with pytest.raises(EncStringError, match="authentication"):
            decrypt(key, value, other_aad)


def test_truncated_or_extended_ciphertext_is_detected() -> None:
    raw = _raw(encrypt(KEY, b"some secret", "id"))
    for altered in (raw[:-1], raw + b"\0", raw[:12] + raw[13:]):
        with pytest.raises(EncStringError):
            decrypt(KEY, _from_raw(altered), "id")


def test_swapping_items_is_detected() -> None:
    item_a = encrypt(KEY, b"a's password", "item-a")
    with pytest.raises(EncStringError):
        decrypt(KEY, item_a, "item-b")


GOOD = encrypt(KEY, b"hello", "aad", nonce=NONCE)
_, GOOD_NONCE, GOOD_BODY = GOOD.split(".")


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("", id="empty"),
        pytest.param("v1", id="one-part"),
        pytest.param(f"v1.{GOOD_NONCE}", id="two-parts"),
        pytest.param(f"{GOOD}.", id="four-parts"),
        pytest.param("v2" + GOOD[2:], id="v2"),
        pytest.param("V1" + GOOD[2:], id="V1"),
        pytest.param("v01" + GOOD[2:], id="v01"),
        pytest.param(" " + GOOD, id="leading-space"),
        pytest.param(GOOD + "\n", id="trailing-newline"),
        pytest.param(f"v1.{GOOD_NONCE}=.{GOOD_BODY}", id="padding-on-nonce"),
        pytest.param(GOOD + "==", id="padding-on-body"),
        pytest.param(f"v1.{GOOD_NONCE}.{GOOD_BODY[:-1]}+", id="plus"),
        pytest.param(f"v1.{GOOD_NONCE}.{GOOD_BODY[:-1]}/", id="slash"),
        pytest.param(f"v1.{GOOD_NONCE}.{GOOD_BODY[:5]} {GOOD_BODY[6:]}", id="inner-space"),
        pytest.param(f"v1.{GOOD_NONCE}.{GOOD_BODY[:-1]}\u00e9", id="non-ascii"),
        pytest.param(f"v1.{_b64(bytes(11))}.{GOOD_BODY}", id="nonce-11-bytes"),
        pytest.param(f"v1.{_b64(bytes(13))}.{GOOD_BODY}", id="nonce-13-bytes"),
        pytest.param(f"v1..{GOOD_BODY}", id="no-nonce"),
        pytest.param(f"v1.{GOOD_NONCE}.", id="no-body"),
        pytest.param(f"v1.{GOOD_NONCE}.{_b64(bytes(15))}", id="body-15-bytes"),
        pytest.param(f"v1.{GOOD_NONCE}.{_b64(bytes(18))}A", id="impossible-length"),
        pytest.param(f"v1.{GOOD_NONCE}.{_b64(bytes(17))[:-1]}B", id="non-canonical"),
        pytest.param("v1." + "A" * MAX, id="too-long"),
        pytest.param(None, id="None"),
        pytest.param(GOOD.encode(), id="bytes"),
    ],
)
def test_check_shape_rejects(value: object) -> None:
    with pytest.raises(EncStringError):
        check_shape(value, max_length=MAX)  # type: ignore[arg-type]
    with pytest.raises(EncStringError):
        decrypt(KEY, value, "aad")  # type: ignore[arg-type]


def test_check_shape_length_limit_is_inclusive() -> None:
    check_shape(GOOD, max_length=len(GOOD))
    with pytest.raises(EncStringError, match="longer"):
        check_shape(GOOD, max_length=len(GOOD) - 1)


def test_check_shape_refuses_a_huge_value_without_scanning_it() -> None:
    with pytest.raises(EncStringError, match="longer"):
        check_shape("v1." + "A" * 5_000_000, max_length=MAX)


@settings(max_examples=200, database=None)
@given(value=st.text() | st.text(alphabet="v1.=AQgwBCDabc-_+/ \u00e9", max_size=60))
def test_check_shape_raises_only_encstring_error(value: str) -> None:
    with contextlib.suppress(EncStringError):
        check_shape(value, max_length=100)


@pytest.mark.parametrize("key", [bytes(16), bytes(24), bytes(31), b"", "k" * 32, None], ids=repr)
def test_only_256_bit_keys(key: object) -> None:
    with pytest.raises(EncStringError, match="key"):
        encrypt(key, b"x", "aad")  # type: ignore[arg-type]
    with pytest.raises(EncStringError, match="key"):
        decrypt(key, GOOD, "aad")  # type: ignore[arg-type]


@pytest.mark.parametrize("nonce", [bytes(11), bytes(13), b"", "0" * 12], ids=repr)
def test_given_nonce_must_be_12_bytes(nonce: object) -> None:
    with pytest.raises(EncStringError, match="nonce"):
        encrypt(KEY, b"x", "aad", nonce=nonce)  # type: ignore[arg-type]


def test_bad_plaintext_and_aad_types() -> None:
    with pytest.raises(EncStringError, match="plaintext"):
        encrypt(KEY, "text", "aad")  # type: ignore[arg-type]
    for aad in ("\ud800", None, b"aad"):
        with pytest.raises(EncStringError, match="aad"):
            encrypt(KEY, b"x", aad)  # type: ignore[arg-type]
        with pytest.raises(EncStringError, match="aad"):
            decrypt(KEY, GOOD, aad)  # type: ignore[arg-type]


def test_encstring_error_is_a_crypto_error() -> None:
    assert issubclass(EncStringError, CryptoError)
