"""The base64 inputs parsed outside `crypto/`, over generated text (Hypothesis).

The admin API's page cursors and a WebAuthn response's `rawId` arrive as
base64url from the client. Whatever the text, the parser must answer with
our own error (a 400 problem on the wire, or a rejected ceremony), never
anything that would surface as a 500. `tests/crypto/test_properties.py` does
the same for the crypto suite's formats.
"""

from __future__ import annotations

import base64
import contextlib
import unicodedata

from hypothesis import example, given, settings
from hypothesis import strategies as st

from vaultapi.errors import BadRequest
from vaultapi.services.admin import decode_cursor, decode_id_cursor, encode_cursor
from vaultapi.services.webauthn_ceremonies import (
    MAX_CREDENTIAL_ID_BYTES,
    ResponseRejectedError,
    credential_id_of,
)

FAST = settings(max_examples=300, database=None, deadline=None)

base64ish = st.text(alphabet="AZaz09-_+/=.\u00e9 \n", max_size=80)
encoded_text = st.text(max_size=40).map(
    lambda t: base64.urlsafe_b64encode(t.encode("utf-8", "surrogatepass")).decode().rstrip("=")
)


@FAST
@given(cursor=st.text(max_size=80) | base64ish | encoded_text)
@example(cursor=encode_cursor("\u00b2"))  # str.isdigit() is true, int() refuses it
@example(cursor=encode_cursor("9" * 40))  # beyond BIGINT
@example(cursor=encode_cursor("a\x00"))  # PostgreSQL cannot compare text with NUL
def test_a_cursor_decodes_to_what_a_page_hands_out_or_is_a_bad_request(cursor: str) -> None:
    with contextlib.suppress(BadRequest):
        text = decode_cursor(cursor)
        assert text is not None
        assert all(unicodedata.category(char) != "Cc" for char in text)
    with contextlib.suppress(BadRequest):
        number = decode_id_cursor(cursor)
        assert number is not None
        assert 0 <= number < 2**63


@FAST
@given(text=st.text(st.characters(exclude_categories=["Cc"]), max_size=40))
def test_cursors_round_trip(text: str) -> None:
    try:
        encoded = encode_cursor(text)
    except UnicodeEncodeError:  # lone surrogates: never in an e-mail or an id
        return
    assert decode_cursor(encoded) == text


@FAST
@given(raw_id=st.text(max_size=80) | base64ish | st.integers() | st.none())
def test_a_raw_id_is_a_credential_id_or_a_rejection(raw_id: object) -> None:
    with contextlib.suppress(ResponseRejectedError):
        credential_id = credential_id_of({"rawId": raw_id})
        assert 1 <= len(credential_id) <= MAX_CREDENTIAL_ID_BYTES
