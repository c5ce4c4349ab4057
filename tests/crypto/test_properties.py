"""Properties of the v1 suite over generated inputs (Hypothesis).

The example-based tests beside this file pin the formats and the vectors,
and already hold the first properties (test_encstring.py: round trip, a
flipped byte of the raw ciphertext; test_srp.py: client and server agree
for random identities, passwords and salts). These treat every parser as
facing an attacker instead: the *text* of an EncString cut or altered
anywhere, wrong inputs to an SRP handshake, arbitrary text and integers
where SRP values, proofs, share links, tokens, e-mails and second-factor
codes go. Bad input must only ever raise the suite's own error types (or,
for the code normalizers, give None): anything else would surface as a 500
on the server, or as a traceback in the client.

Examples per test are few where a test does 3072-bit arithmetic or
Argon2id; `database=None` keeps runs independent of each other.
"""

from __future__ import annotations

import base64
import contextlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from vaultapi.crypto import CryptoError, recovery_codes, srp, tokens, totp
from vaultapi.crypto import share as share_crypto
from vaultapi.crypto.encstring import EncStringError, decrypt, encrypt
from vaultapi.crypto.kdf import normalize_email

KEY = bytes(range(32))
FAST = settings(max_examples=200, database=None, deadline=None)
MODEXP = settings(max_examples=20, database=None, deadline=None)

texts = st.text(st.characters(codec="utf-8"), max_size=60)
any_text = st.text(max_size=80)  # lone surrogates included
keys = st.binary(min_size=32, max_size=32)
plaintexts = st.binary(max_size=100)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --- EncString ------------------------------------------------------------------------------------


@FAST
@given(key=keys, plaintext=plaintexts, aad=texts, data=st.data())
def test_an_encstring_cut_anywhere_is_refused(
    key: bytes, plaintext: bytes, aad: str, data: st.DataObject
) -> None:
    value = encrypt(key, plaintext, aad)
    cut = data.draw(st.integers(0, len(value) - 1), label="cut")
    with pytest.raises(EncStringError):
        decrypt(key, value[:cut], aad)


@FAST
@given(key=keys, plaintext=plaintexts, aad=texts, data=st.data())
def test_an_encstring_with_any_bit_of_its_text_flipped_is_refused(
    key: bytes, plaintext: bytes, aad: str, data: st.DataObject
) -> None:
    """Not only the raw bytes (test_encstring.py): the version, the dots, the
    base64 text itself. The encoding is canonical, so every change of the
    text is either malformed or different bytes that fail authentication."""
    value = encrypt(key, plaintext, aad)
    position = data.draw(st.integers(0, len(value) - 1), label="position")
    bit = data.draw(st.integers(0, 7), label="bit")
    altered = value[:position] + chr(ord(value[position]) ^ (1 << bit)) + value[position + 1 :]
    with pytest.raises(EncStringError):
        decrypt(key, altered, aad)


@FAST
@given(
    nonce=st.binary(min_size=12, max_size=12),
    body=st.binary(min_size=16, max_size=80),
    aad=texts,
)
def test_a_well_formed_encstring_that_was_not_made_with_the_key_is_refused(
    nonce: bytes, body: bytes, aad: str
) -> None:
    with pytest.raises(EncStringError, match="authentication"):
        decrypt(KEY, f"v1.{_b64(nonce)}.{_b64(body)}", aad)


@FAST
@given(value=any_text | st.text(alphabet="v1.=AQgwBCDabc-_+/ \u00e9\n", max_size=60))
def test_decrypting_arbitrary_text_raises_only_encstring_error(value: str) -> None:
    with pytest.raises(EncStringError):
        decrypt(KEY, value, "aad")


# --- SRP ------------------------------------------------------------------------------------------

IDENTITY = "alice@example.com"
PASSWORD = "c0f6359f316597cc3a22a9cb838c83c087b0b5e684acc7c8f59bb7a1f1e7ca5c"
SALT = bytes(range(16))
VERIFIER = srp.compute_verifier(IDENTITY, PASSWORD, SALT)

wide_hex = st.integers(0, 16**srp.HEX_WIDTH - 1).map(lambda n: format(n, f"0{srp.HEX_WIDTH}x"))
edge_elements = st.sampled_from([0, 1, 2, srp.N - 2, srp.N - 1, srp.N, srp.N + 1, 2 * srp.N])
any_int = st.integers(-(2**3100), 2**3100) | edge_elements


@FAST
@given(value=wide_hex | edge_elements.map(lambda n: format(n, f"0{srp.HEX_WIDTH}x")))
def test_a_group_element_parses_exactly_when_it_is_in_range(value: str) -> None:
    number = int(value, 16)
    if 1 < number < srp.N - 1:
        assert srp.parse_group_element(value, name="A") == number
        assert srp.encode_int(number) == value
    else:
        with pytest.raises(srp.SRPError):
            srp.parse_group_element(value, name="A")


@FAST
@given(value=any_text | st.text(alphabet="0123456789abcdefABCDEFx -_+", max_size=800))
def test_parsing_arbitrary_text_as_srp_values_raises_only_srp_error(value: str) -> None:
    with contextlib.suppress(srp.SRPError):
        assert srp.parse_group_element(value, name="B") > 1
    with contextlib.suppress(srp.SRPError):
        assert srp.parse_proof(value).hex() == value


@MODEXP
@given(public_a=any_int, m1=st.binary(max_size=40))
def test_a_forged_client_value_or_proof_never_verifies(public_a: int, m1: bytes) -> None:
    challenge = srp.server_challenge(VERIFIER)
    with pytest.raises((srp.SRPError, srp.SRPProofError)):
        srp.server_verify(IDENTITY, SALT, VERIFIER, public_a, challenge, m1)


@MODEXP
@given(public_b=any_int)
def test_the_client_takes_any_server_value_without_crashing(public_b: int) -> None:
    """B is the server's: the client refuses an out-of-range one with SRPError."""
    start = srp.client_start()
    if 1 < public_b < srp.N - 1:
        assert len(srp.client_proof(IDENTITY, PASSWORD, SALT, start, public_b).M1) == 32
    else:
        with pytest.raises(srp.SRPError):
            srp.client_proof(IDENTITY, PASSWORD, SALT, start, public_b)


@MODEXP
@given(
    password=texts,
    identity=st.sampled_from([IDENTITY, "Alice@example.com", "alice@example.org"]),
    salt=st.sampled_from([SALT, bytes(16), SALT[::-1]]),
)
def test_a_handshake_with_anything_but_the_registered_secret_fails(
    password: str, identity: str, salt: bytes
) -> None:
    """test_srp.py shows agreement for random inputs; this is the other half."""
    assume((password, identity, salt) != (PASSWORD, IDENTITY, SALT))
    start = srp.client_start()
    challenge = srp.server_challenge(VERIFIER)
    proof = srp.client_proof(identity, password, salt, start, challenge.public_B)
    with pytest.raises(srp.SRPProofError):
        srp.server_verify(IDENTITY, SALT, VERIFIER, start.public_A, challenge, proof.M1)


# --- share links ----------------------------------------------------------------------------------

hosts = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z]{2,6}){0,2}", fullmatch=True)
servers = st.builds(
    lambda scheme, host, port, path: f"{scheme}://{host}{port}{path}",
    st.sampled_from(["http", "https"]),
    hosts,
    st.sampled_from(["", ":8000", ":443"]),
    st.sampled_from(["", "/", "/vault", "/a/b/"]),
)


@FAST
@given(base=servers, share_id=st.uuids(), key=keys, protected=st.booleans())
def test_any_share_link_round_trips(
    base: str, share_id: uuid.UUID, key: bytes, protected: bool
) -> None:
    link = share_crypto.make_link(base, share_id, key, protected=protected)
    assert share_crypto.parse_link(link) == share_crypto.ShareLink(
        base.rstrip("/"), share_id, key, protected
    )


@FAST
@given(
    base=servers,
    share_id=st.uuids(),
    key=keys,
    data=st.data(),
    junk=st.text(alphabet="[]:@#?%./ \\\x00\u00e9", min_size=1, max_size=3),
)
def test_parsing_a_damaged_share_link_raises_only_share_link_error(
    base: str, share_id: uuid.UUID, key: bytes, data: st.DataObject, junk: str
) -> None:
    link = share_crypto.make_link(base, share_id, key, protected=data.draw(st.booleans()))
    start = data.draw(st.integers(0, len(link)), label="start")
    end = data.draw(st.integers(start, min(len(link), start + 3)), label="end")
    with contextlib.suppress(share_crypto.ShareLinkError):
        share_crypto.parse_link(link[:start] + junk + link[end:])


@FAST
@given(link=any_text)
def test_parsing_arbitrary_text_as_a_share_link_raises_only_share_link_error(link: str) -> None:
    with contextlib.suppress(share_crypto.ShareLinkError):
        share_crypto.parse_link(link)


# --- tokens, e-mails, second-factor codes --------------------------------------------------------

TOKEN_KEYS = tokens.TokenKeys(algorithm="HS256", hmac_secret=bytes(range(32)))


@FAST
@given(token=any_text | st.text(alphabet="eyJhbGciOiJ.-_=", max_size=200))
def test_verifying_arbitrary_text_as_an_access_token_raises_only_token_error(token: str) -> None:
    with pytest.raises(tokens.TokenError):
        tokens.verify_access_token(TOKEN_KEYS, token, issuer="vaultapi", audience="vaultapi")


@FAST
@given(data=st.data())
def test_an_access_token_with_any_character_changed_is_refused(data: st.DataObject) -> None:
    now = datetime.now(UTC)
    token, _ = tokens.issue_access_token(
        TOKEN_KEYS,
        account_id=uuid.uuid4(),
        session_id=uuid.uuid4(),
        role="user",
        issuer="vaultapi",
        audience="vaultapi",
        ttl=timedelta(minutes=5),
        now=now,
    )
    position = data.draw(st.integers(0, len(token) - 1), label="position")
    replacement = data.draw(st.characters(codec="ascii"), label="replacement")
    altered = token[:position] + replacement + token[position + 1 :]
    assume(altered != token)
    # base64url's last character has unused low bits: a change there alone may
    # decode to the same bytes, and then the token is, byte for byte, the same.
    segments, altered_segments = token.split("."), altered.split(".")
    assume(
        len(altered_segments) != 3
        or any(_unb64(a) != _unb64(b) for a, b in zip(segments, altered_segments, strict=True))
    )
    with pytest.raises(tokens.TokenError):
        tokens.verify_access_token(TOKEN_KEYS, altered, issuer="vaultapi", audience="vaultapi")


def _unb64(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        return None


@FAST
@given(token=any_text | st.text(alphabet="vrtm_AZaz09-", max_size=50).map(lambda t: "vrt_" + t))
def test_opaque_tokens_are_hashed_only_in_their_one_shape(token: str) -> None:
    for hash_of, prefix in (
        (tokens.refresh_token_hash, "vrt_"),
        (tokens.mfa_token_hash, "vmt_"),
    ):
        try:
            digest = hash_of(token)
        except tokens.TokenError:
            continue
        assert token.startswith(prefix)
        assert len(token) == len(prefix) + 43
        assert len(digest) == 32


@FAST
@given(email=any_text | st.emails().map(lambda e: f" {e.upper()}\u00a0"))
def test_email_normalization_raises_only_crypto_error_and_is_idempotent(email: str) -> None:
    try:
        identity = normalize_email(email)
    except CryptoError:
        return
    assert normalize_email(identity) == identity


@FAST
@given(code=any_text | st.text(alphabet="abcdefghijklmnopqrstuvwxyz234567 -\nABC", max_size=24))
@example(code="abcd-efgh-ijkl-mnop\n")  # `$` matches before a final newline
def test_a_recovery_code_normalizes_to_its_one_shape_or_to_none(code: str) -> None:
    normalized = recovery_codes.normalize(code)
    if normalized is not None:
        assert len(normalized) == recovery_codes.CODE_CHARACTERS
        assert set(normalized) <= set(recovery_codes.ALPHABET)


@FAST
@given(code=any_text | st.text(alphabet="0123456789 \n\u0663", max_size=10))
@example(code="123 456\n")  # `$` matches before a final newline
def test_a_totp_code_normalizes_to_six_ascii_digits_or_to_none(code: str) -> None:
    normalized = totp.normalize_code(code)
    if normalized is not None:
        assert len(normalized) == totp.DIGITS
        assert set(normalized) <= set("0123456789")
