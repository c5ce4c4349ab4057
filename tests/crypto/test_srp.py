"""SRP-6a, suite v1: reference vectors, srptools agreement, wire checks, attacks."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import gmpy2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from srptools import SRPClientSession, SRPContext, SRPServerSession

from vaultapi.crypto import CryptoError, srp
from vaultapi.crypto.srp import (
    EPHEMERAL_BITS,
    HEX_WIDTH,
    N,
    SRPError,
    SRPProofError,
    client_proof,
    client_start,
    compute_verifier,
    encode_int,
    parse_group_element,
    parse_proof,
    server_challenge,
    server_verify,
    verify_server_proof,
)

IDENTITY = "alice@example.com"
PASSWORD = "c0f6359f316597cc3a22a9cb838c83c087b0b5e684acc7c8f59bb7a1f1e7ca5c"
SALT = bytes.fromhex("00f1e2d3c4b5a6978877665544332211")
A_FIXED = int.from_bytes(hashlib.sha256(b"test a").digest(), "big")
B_FIXED = int.from_bytes(hashlib.sha256(b"test b").digest(), "big")


def _h(label: str) -> int:
    return int.from_bytes(hashlib.sha256(label.encode()).digest(), "big")


@pytest.fixture(params=[True, False], ids=["gmpy2", "pure-python"])
def arithmetic(request: pytest.FixtureRequest) -> Iterator[bool]:
    """Run a test once with GMP exponentiation and once with srptools' plain `pow`."""
    previous = srp.gmpy2_enabled()
    srp.use_gmpy2(request.param)
    yield request.param
    srp.use_gmpy2(previous)


# --- an independent implementation of the documented formulas ------------------------------------


def _min(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")


def reference_handshake(
    identity: str, password: str, salt: bytes, a: int, b: int
) -> dict[str, Any]:
    """Suite v1 SRP written from srp.py's module docstring with hashlib and pow only."""

    def h(data: bytes) -> bytes:
        return hashlib.sha256(data).digest()

    def num(data: bytes) -> int:
        return int.from_bytes(data, "big")

    def pad(value: int) -> bytes:
        return value.to_bytes(384, "big")

    g = 5
    k = num(h(_min(N) + pad(g)))
    x = num(h(salt + h(f"{identity}:{password}".encode())))
    v = pow(g, x, N)
    big_a = pow(g, a, N)
    big_b = (k * v + pow(g, b, N)) % N
    u = num(h(pad(big_a) + pad(big_b)))
    premaster = pow(big_b - k * pow(g, x, N), a + u * x, N)
    assert premaster == pow(big_a * pow(v, u, N), b, N)
    key = h(_min(premaster))
    h_n_xor_h_g = _min(num(h(_min(N))) ^ num(h(_min(g))))
    h_i = _min(num(h(identity.encode())))
    m1 = h(h_n_xor_h_g + h_i + salt + _min(big_a) + _min(big_b) + key)
    m2 = h(_min(big_a) + m1 + key)
    return {
        "k": k, "x": x, "v": v, "A": big_a, "B": big_b, "u": u, "S": premaster, "K": key,
        "h_n_xor_h_g": h_n_xor_h_g, "h_i": h_i, "M1": m1, "M2": m2,
    }  # fmt: skip


def _handshake(
    identity: str, password: str, salt: bytes, a: int | None = None, b: int | None = None
) -> dict[str, Any]:
    verifier = compute_verifier(identity, password, salt)
    start = client_start(private_a=a)
    challenge = server_challenge(verifier, private_b=b)
    proof = client_proof(identity, password, salt, start, challenge.public_B)
    m2 = server_verify(identity, salt, verifier, start.public_A, challenge, proof.M1)
    verify_server_proof(proof, m2)
    return {
        "v": verifier, "A": start.public_A, "B": challenge.public_B, "K": proof.session_key,
        "M1": proof.M1, "M2": m2, "start": start, "challenge": challenge, "proof": proof,
    }  # fmt: skip


# --- the group -----------------------------------------------------------------------------------


def test_group_is_the_rfc_5054_3072_bit_group() -> None:
    # RFC 3526 section 4 / RFC 5054 appendix A: N = 2^3072 - 2^3008 - 1 + 2^64 * (floor(2^2942 pi)
    # + 1690314), generator 5. Computed here from pi rather than copied.
    with gmpy2.context(gmpy2.get_context(), precision=3200):
        pi_bits = int(gmpy2.floor(gmpy2.const_pi() * gmpy2.mpz(2) ** 2942))
    assert 2**3072 - 2**3008 - 1 + 2**64 * (pi_bits + 1690314) == N
    assert srp.G == 5
    assert N.bit_length() == 3072
    assert srp.N_BYTES == 384
    assert HEX_WIDTH == 768


# --- RFC 5054 appendix B through the same code paths ---------------------------------------------

RFC5054_N1024 = int(
    "EEAF0AB9ADB38DD69C33F80AFA8FC5E86072618775FF3C0B9EA2314C9C256576D674DF7496EA81D3383B4813"
    "D692C6E0E0D5D8E250B98BE48E495C1D6089DAD15DC7D7B46154D6B6CE8EF4AD69B15D4982559B297BCF1885"
    "C529F566660E57EC68EDBC3C05726CC02FD4CBF4976EAA9AFD5138FE8376435B9FC61D2FC0EB06E3",
    16,
)


def _rfc(text: str) -> int:
    return int("".join(text.split()), 16)


# RFC 5054 Appendix B (https://www.rfc-editor.org/rfc/rfc5054#appendix-B): SHA-1, 1024-bit group.
RFC5054_B: dict[str, Any] = {
    "I": "alice",
    "P": "password123",
    "s": bytes.fromhex("BEB25379D1A8581EB5A727673A2441EE"),
    "k": _rfc("7556AA04 5AEF2CDD 07ABAF0F 665C3E81 8913186F"),
    "x": _rfc("94B7555A ABE9127C C58CCF49 93DB6CF8 4D16C124"),
    "v": _rfc("""
        7E273DE8 696FFC4F 4E337D05 B4B375BE B0DDE156 9E8FA00A 9886D812
        9BADA1F1 822223CA 1A605B53 0E379BA4 729FDC59 F105B478 7E5186F5
        C671085A 1447B52A 48CF1970 B4FB6F84 00BBF4CE BFBB1681 52E08AB5
        EA53D15C 1AFF87B2 B9DA6E04 E058AD51 CC72BFC9 033B564E 26480D78
        E955A5E2 9E7AB245 DB2BE315 E2099AFB"""),
    "a": _rfc("60975527 035CF2AD 1989806F 0407210B C81EDC04 E2762A56 AFD529DD DA2D4393"),
    "b": _rfc("E487CB59 D31AC550 471E81F0 0F6928E0 1DDA08E9 74A004F4 9E61F5D1 05284D20"),
    "A": _rfc("""
        61D5E490 F6F1B795 47B0704C 436F523D D0E560F0 C64115BB 72557EC4
        4352E890 3211C046 92272D8B 2D1A5358 A2CF1B6E 0BFCF99F 921530EC
        8E393561 79EAE45E 42BA92AE ACED8251 71E1E8B9 AF6D9C03 E1327F44
        BE087EF0 6530E69F 66615261 EEF54073 CA11CF58 58F0EDFD FE15EFEA
        B349EF5D 76988A36 72FAC47B 0769447B"""),
    "B": _rfc("""
        BD0C6151 2C692C0C B6D041FA 01BB152D 4916A1E7 7AF46AE1 05393011
        BAF38964 DC46A067 0DD125B9 5A981652 236F99D9 B681CBF8 7837EC99
        6C6DA044 53728610 D0C6DDB5 8B318885 D7D82C7F 8DEB75CE 7BD4FBAA
        37089E6F 9C6059F3 88838E7A 00030B33 1EB76840 910440B1 B27AAEAE
        EB4012B7 D7665238 A8E3FB00 4B117B58"""),
    "u": _rfc("CE38B959 3487DA98 554ED47D 70A7AE5F 462EF019"),
    "S": _rfc("""
        B0DC82BA BCF30674 AE450C02 87745E79 90A3381F 63B387AA F271A10D
        233861E3 59B48220 F7C4693C 9AE12B0A 6F67809F 0876E2D0 13800D6C
        41BB59B6 D5979B5C 00A172B4 A2A5903A 0BDCAF8A 709585EB 2AFAFA8F
        3499B200 210DCC1F 10EB3394 3CD67FC8 8A2F39A4 BE5BEC4E C0A3212D
        C346D7E4 74B29EDE 8A469FFE CA686E5A"""),
}  # fmt: skip
RFC5054_GROUP = srp._Group(prime=RFC5054_N1024, generator=2, hash_func=hashlib.sha1)


def test_rfc_5054_appendix_b(arithmetic: bool) -> None:
    vec, group = RFC5054_B, RFC5054_GROUP
    identity, password, salt = vec["I"], vec["P"], vec["s"]
    assert srp._context(group, identity).hash(RFC5054_N1024, b"\0" * 127 + b"\2") == vec["k"]
    assert srp._password_hash(group, identity, password, salt) == vec["x"]
    assert srp._verifier(group, identity, password, salt) == vec["v"]
    assert srp._client_public(group, vec["a"]) == vec["A"]
    assert srp._server_public(group, vec["v"], vec["b"]) == vec["B"]
    server = srp._server_session(group, identity, salt, vec["v"], vec["A"], vec["b"], vec["B"])
    client = srp._client_session(group, identity, password, salt, vec["a"], vec["A"], vec["B"])
    assert server.u == client.u == vec["u"]
    assert server.premaster_secret == client.premaster_secret == vec["S"]
    assert server.session_key == client.session_key == hashlib.sha1(_min(vec["S"])).digest()  # noqa: S324
    assert server.m1 == client.m1
    assert server.m2 == client.m2
    for value in (server.u, server.premaster_secret):
        assert type(value) is int


def test_contexts_pin_group_hash_and_exponent_size(arithmetic: bool) -> None:
    context = srp._context(srp._V1, IDENTITY)
    assert type(context) is (srp._GmpContext if arithmetic else SRPContext)
    assert context._prime == N
    assert context._gen == 5
    assert context._hash_func is hashlib.sha256
    assert context._bits_random == EPHEMERAL_BITS


# --- agreement with srptools' own sessions and with the documented formulas ----------------------


def test_matches_srptools_sessions(arithmetic: bool) -> None:
    ours = _handshake(IDENTITY, PASSWORD, SALT, A_FIXED, B_FIXED)
    plain: dict[str, Any] = {
        "prime": format(N, "x"),
        "generator": "5",
        "hash_func": hashlib.sha256,
        "bits_random": 256,
    }
    server = SRPServerSession(
        SRPContext(IDENTITY, **plain), password_verifier=ours["v"], private=B_FIXED
    )
    client = SRPClientSession(SRPContext(IDENTITY, PASSWORD, **plain), private=A_FIXED)
    assert int(server.public, 16) == ours["B"]
    assert int(client.public, 16) == ours["A"]
    server_key, server_m1, server_m2 = server.process(client.public, SALT.hex())
    client_key, client_m1, client_m2 = client.process(server.public, SALT.hex())
    assert server_key == client_key == ours["K"].hex()
    assert server_m1 == client_m1 == ours["M1"].hex()
    assert server_m2 == client_m2 == ours["M2"].hex()


# An identity whose SHA-256 starts with a zero byte, and a and b whose A, B and S are one byte
# short: every MIN-encoding quirk of the docstring is exercised (found by a one-off search).
QUIRK_IDENTITY = "quirk-187@example.com"
QUIRK_PASSWORD = "00" + "11" * 31
QUIRK_SALT = bytes.fromhex("0000ffeeddccbbaa9988776655443322")
QUIRK_A = _h("vaultapi/quirk/a/263")
QUIRK_B = _h("vaultapi/quirk/b/60781")


@pytest.mark.parametrize(
    ("identity", "password", "salt", "a", "b"),
    [
        pytest.param(IDENTITY, PASSWORD, SALT, A_FIXED, B_FIXED, id="plain"),
        pytest.param(QUIRK_IDENTITY, QUIRK_PASSWORD, QUIRK_SALT, QUIRK_A, QUIRK_B, id="quirks"),
    ],
)
def test_matches_the_documented_formulas(
    arithmetic: bool, identity: str, password: str, salt: bytes, a: int, b: int
) -> None:
    expected = reference_handshake(identity, password, salt, a, b)
    ours = _handshake(identity, password, salt, a, b)
    for name in ("v", "A", "B", "K", "M1", "M2"):
        assert ours[name] == expected[name], name


def test_quirk_case_really_exercises_the_quirks() -> None:
    ref = reference_handshake(QUIRK_IDENTITY, QUIRK_PASSWORD, QUIRK_SALT, QUIRK_A, QUIRK_B)
    assert hashlib.sha256(QUIRK_IDENTITY.encode()).digest()[0] == 0
    assert len(ref["h_i"]) == 31
    for name in ("A", "B", "S"):
        assert len(_min(ref[name])) < srp.N_BYTES, name
    assert QUIRK_SALT[0] == 0  # the salt keeps its leading zero bytes: it is hashed raw


# --- gmpy2 switch --------------------------------------------------------------------------------


def test_gmpy2_is_on_by_default() -> None:
    assert srp.gmpy2_enabled()


def test_gmpy2_and_pure_python_agree() -> None:
    previous = srp.gmpy2_enabled()
    results = []
    try:
        for enabled in (True, False):
            srp.use_gmpy2(enabled)
            results.append(
                [_handshake(IDENTITY, PASSWORD, SALT, A_FIXED + i, B_FIXED + i) for i in range(3)]
            )
    finally:
        srp.use_gmpy2(previous)
    fast, pure = results
    for one, other in zip(fast, pure, strict=True):
        for name in ("v", "A", "B", "K", "M1", "M2"):
            assert one[name] == other[name], name
        for name in ("v", "A", "B"):
            assert type(one[name]) is int, name
        assert type(one["challenge"].private_b) is int
        assert type(one["start"].private_a) is int


# --- wire encoding -------------------------------------------------------------------------------


def test_encode_int_is_fixed_width_lowercase() -> None:
    assert encode_int(0) == "0" * 768
    assert encode_int(N - 1) == format(N - 1, "x")
    assert encode_int(0xABC) == "0" * 765 + "abc"


@pytest.mark.parametrize(
    "value", [-1, N, N + 1, 2**3072, True, 1.0, "5", None, gmpy2.mpz(5)], ids=repr
)
def test_encode_int_rejects(value: object) -> None:
    with pytest.raises(SRPError):
        encode_int(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [2, 3, N - 2, N // 2, 2**3064])
def test_parse_group_element_accepts_in_range_values(value: int) -> None:
    assert parse_group_element(encode_int(value), name="A") == value


VALID = encode_int(N // 3)
ATTACKS: list[Any] = [
    pytest.param("0" * 768, id="zero"),
    pytest.param(encode_int(1), id="one"),
    pytest.param(encode_int(N - 1), id="N-1"),
    pytest.param(format(N, "0768x"), id="N"),
    pytest.param(format(N + 1, "0768x"), id="N+1"),
    pytest.param(format(2 * N, "x"), id="2N-769-chars"),
    pytest.param("f" * 768, id="2^3072-1"),
    pytest.param(VALID[:-1], id="767-chars"),
    pytest.param(VALID + "0", id="769-chars"),
    pytest.param(VALID.upper(), id="uppercase"),
    pytest.param("0x" + VALID[2:], id="0x-prefix"),
    pytest.param("0X" + VALID[2:], id="0X-prefix"),
    pytest.param(" " + VALID[1:], id="leading-space"),
    pytest.param(VALID[:-1] + "\n", id="trailing-newline"),
    pytest.param(VALID[:100] + "_" + VALID[101:], id="underscore"),
    pytest.param("-" + VALID[1:], id="minus-sign"),
    pytest.param("+" + VALID[1:], id="plus-sign"),
    pytest.param("-1", id="minus-one"),
    pytest.param("\u0663" * 768, id="arabic-indic-digits"),
    pytest.param("\uff11" * 768, id="fullwidth-digits"),
    pytest.param("", id="empty"),
    pytest.param("f" * 5_000_000, id="5MB"),
    pytest.param(None, id="None"),
    pytest.param(5, id="int"),
    pytest.param(VALID.encode(), id="bytes"),
    pytest.param(["a"], id="list"),
]


@pytest.mark.parametrize("value", ATTACKS)
def test_parse_group_element_rejects_attack_values(value: object) -> None:
    with pytest.raises(SRPError, match=r"^A "):
        parse_group_element(value, name="A")  # type: ignore[arg-type]


def test_parse_group_element_names_the_field() -> None:
    with pytest.raises(SRPError, match="verifier"):
        parse_group_element("0" * 768, name="verifier")


def test_parse_proof() -> None:
    assert parse_proof("0a" * 32) == bytes([10] * 32)


@pytest.mark.parametrize(
    "value", ["0" * 63, "0" * 65, "A" * 64, "0x" + "0" * 62, " " + "0" * 63, "", None, b"0" * 64]
)
def test_parse_proof_rejects(value: object) -> None:
    with pytest.raises(SRPError, match="proof"):
        parse_proof(value)  # type: ignore[arg-type]


# --- the handshake and its failures --------------------------------------------------------------


@pytest.fixture
def account() -> tuple[str, str, bytes, int]:
    return IDENTITY, PASSWORD, SALT, compute_verifier(IDENTITY, PASSWORD, SALT)


def test_random_ephemerals() -> None:
    verifier = compute_verifier(IDENTITY, PASSWORD, SALT)
    starts = {client_start().private_a for _ in range(4)}
    challenges = {server_challenge(verifier).private_b for _ in range(4)}
    assert len(starts) == len(challenges) == 4
    assert all(1 < value < 2**EPHEMERAL_BITS for value in starts | challenges)
    # 256 random bits: with 8 draws the top byte is almost surely non-zero somewhere.
    assert max(starts | challenges).bit_length() > EPHEMERAL_BITS - 8


def test_given_ephemerals_are_reproducible() -> None:
    verifier = compute_verifier(IDENTITY, PASSWORD, SALT)
    assert client_start(private_a=A_FIXED) == client_start(private_a=A_FIXED)
    assert server_challenge(verifier, private_b=B_FIXED) == server_challenge(
        verifier, private_b=B_FIXED
    )


def test_wrong_password_fails_with_proof_error(account: tuple[str, str, bytes, int]) -> None:
    identity, _, salt, verifier = account
    start = client_start()
    challenge = server_challenge(verifier)
    proof = client_proof(identity, "0" * 64, salt, start, challenge.public_B)
    with pytest.raises(SRPProofError):
        server_verify(identity, salt, verifier, start.public_A, challenge, proof.M1)


def test_wrong_identity_fails_with_proof_error(account: tuple[str, str, bytes, int]) -> None:
    identity, password, salt, verifier = account
    start = client_start()
    challenge = server_challenge(verifier)
    proof = client_proof(identity, password, salt, start, challenge.public_B)
    with pytest.raises(SRPProofError):
        server_verify("mallory@example.com", salt, verifier, start.public_A, challenge, proof.M1)


@pytest.mark.parametrize("position", [0, 15, 31])
def test_altered_m1_fails(account: tuple[str, str, bytes, int], position: int) -> None:
    identity, password, salt, verifier = account
    start = client_start()
    challenge = server_challenge(verifier)
    m1 = bytearray(client_proof(identity, password, salt, start, challenge.public_B).M1)
    m1[position] ^= 0x01
    with pytest.raises(SRPProofError):
        server_verify(identity, salt, verifier, start.public_A, challenge, bytes(m1))


def test_another_handshakes_m1_fails(account: tuple[str, str, bytes, int]) -> None:
    identity, password, salt, verifier = account
    first = _handshake(identity, password, salt)
    start = client_start()
    challenge = server_challenge(verifier)
    with pytest.raises(SRPProofError):
        server_verify(identity, salt, verifier, start.public_A, challenge, first["M1"])
    # ...and with the first handshake's A too, but the new challenge:
    with pytest.raises(SRPProofError):
        server_verify(identity, salt, verifier, first["A"], challenge, first["M1"])


def test_m1_replay_on_a_second_challenge_fails(account: tuple[str, str, bytes, int]) -> None:
    identity, password, salt, verifier = account
    start = client_start()
    first = server_challenge(verifier)
    proof = client_proof(identity, password, salt, start, first.public_B)
    server_verify(identity, salt, verifier, start.public_A, first, proof.M1)
    second = server_challenge(verifier)
    with pytest.raises(SRPProofError):
        server_verify(identity, salt, verifier, start.public_A, second, proof.M1)
    # On the *same* challenge the proof verifies again: single use is the caller's job
    # (the server deletes the handshake row), exactly as srptools behaves.
    assert server_verify(identity, salt, verifier, start.public_A, first, proof.M1)


@pytest.mark.parametrize(
    "public_a", [0, 1, N - 1, N, N + 1, 2 * N, -1, -N, 2**4000, "ab", None, True], ids=repr
)
def test_server_verify_rejects_bad_a(
    account: tuple[str, str, bytes, int], public_a: object
) -> None:
    identity, _, salt, verifier = account
    challenge = server_challenge(verifier, private_b=B_FIXED)
    with pytest.raises(SRPError, match="A"):
        server_verify(identity, salt, verifier, public_a, challenge, bytes(32))  # type: ignore[arg-type]


@pytest.mark.parametrize("m1", [b"", bytes(31), bytes(33), "00" * 32, None], ids=repr)
def test_server_verify_rejects_malformed_m1(
    account: tuple[str, str, bytes, int], m1: object
) -> None:
    identity, _, salt, verifier = account
    start = client_start(private_a=A_FIXED)
    challenge = server_challenge(verifier, private_b=B_FIXED)
    with pytest.raises(SRPError, match="M1"):
        server_verify(identity, salt, verifier, start.public_A, challenge, m1)  # type: ignore[arg-type]


def test_server_verify_rejects_a_forged_challenge(account: tuple[str, str, bytes, int]) -> None:
    identity, _, salt, verifier = account
    start = client_start(private_a=A_FIXED)
    for challenge in (srp.ServerChallenge(B_FIXED, 0), srp.ServerChallenge(0, 5), "challenge"):
        with pytest.raises(SRPError):
            server_verify(identity, salt, verifier, start.public_A, challenge, bytes(32))  # type: ignore[arg-type]


@pytest.mark.parametrize("public_b", [0, 1, N - 1, N, 2 * N, -5, "ff", None], ids=repr)
def test_client_refuses_bad_b(public_b: object) -> None:
    with pytest.raises(SRPError, match="B"):
        client_proof(IDENTITY, PASSWORD, SALT, client_start(), public_b)  # type: ignore[arg-type]


def test_u_zero_is_refused_on_both_sides(
    account: tuple[str, str, bytes, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    identity, password, salt, verifier = account
    start = client_start()
    challenge = server_challenge(verifier)
    monkeypatch.setattr(SRPContext, "get_common_secret", lambda *_args: 0)
    with pytest.raises(SRPError, match="u = "):
        client_proof(identity, password, salt, start, challenge.public_B)
    with pytest.raises(SRPError, match="u = "):
        server_verify(identity, salt, verifier, start.public_A, challenge, bytes(32))


def test_client_refuses_a_server_that_cannot_prove_it_knows_v() -> None:
    result = _handshake(IDENTITY, PASSWORD, SALT)
    proof = result["proof"]
    with pytest.raises(SRPProofError):
        verify_server_proof(proof, bytes(32))
    # A fake server (wrong verifier: it does not know the password) answers with its M2.
    fake_v = compute_verifier(IDENTITY, "f" * 64, SALT)
    start = client_start()
    challenge = server_challenge(fake_v)
    real = client_proof(IDENTITY, PASSWORD, SALT, start, challenge.public_B)
    fake = srp._server_session(
        srp._V1, IDENTITY, SALT, fake_v, start.public_A, challenge.private_b, challenge.public_B
    )
    with pytest.raises(SRPProofError):
        verify_server_proof(real, fake.m2)


@pytest.mark.parametrize("m2", [bytes(31), "00" * 32, None], ids=repr)
def test_verify_server_proof_rejects_malformed_m2(m2: object) -> None:
    proof = _handshake(IDENTITY, PASSWORD, SALT, A_FIXED, B_FIXED)["proof"]
    with pytest.raises(SRPError, match="M2"):
        verify_server_proof(proof, m2)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("identity", "password", "salt"),
    [
        (IDENTITY, PASSWORD, bytes(15)),
        (IDENTITY, PASSWORD, bytes(17)),
        (IDENTITY, PASSWORD, SALT.hex()),
        ("alice\ud800", PASSWORD, SALT),
        (IDENTITY, "pw\udfff", SALT),
        (None, PASSWORD, SALT),
        (IDENTITY, 1234, SALT),
    ],
    ids=repr,
)
def test_compute_verifier_rejects_bad_input(
    identity: object, password: object, salt: object
) -> None:
    with pytest.raises(SRPError):
        compute_verifier(identity, password, salt)  # type: ignore[arg-type]


@pytest.mark.parametrize("private", [0, 1, N, -3, 1.5, True], ids=repr)
def test_given_ephemerals_must_be_in_range(private: Any) -> None:
    verifier = compute_verifier(IDENTITY, PASSWORD, SALT)
    with pytest.raises(SRPError, match="private_b"):
        server_challenge(verifier, private_b=private)
    with pytest.raises(SRPError, match="private_a"):
        client_start(private_a=private)


@pytest.mark.parametrize("verifier", [0, 1, N - 1, N, "v", None], ids=repr)
def test_server_challenge_rejects_bad_verifier(verifier: Any) -> None:
    with pytest.raises(SRPError, match="verifier"):
        server_challenge(verifier)


def test_errors_are_crypto_errors() -> None:
    assert issubclass(SRPError, CryptoError)
    assert issubclass(SRPProofError, CryptoError)
    assert not issubclass(SRPProofError, SRPError)


@settings(max_examples=25, deadline=None, database=None)
@given(
    identity=st.text(st.characters(codec="utf-8"), max_size=40),
    password=st.text(st.characters(codec="utf-8"), max_size=80),
    salt=st.binary(min_size=16, max_size=16),
)
def test_client_and_server_agree(identity: str, password: str, salt: bytes) -> None:
    result = _handshake(identity, password, salt)
    assert result["M2"] == result["proof"].expected_M2
    assert len(result["M1"]) == len(result["M2"]) == len(result["K"]) == 32
    assert parse_group_element(encode_int(result["A"]), name="A") == result["A"]
    assert parse_group_element(encode_int(result["B"]), name="B") == result["B"]
