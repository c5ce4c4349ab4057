"""The comb over a verifier gives exactly `pow(v, u, N)`, refuses stored
powers that are not v's, and verify gives the same answer with it or without."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaultapi.crypto import srp
from vaultapi.crypto.comb import ROWS, SPACING, TAG_BYTES, Comb, VerifierComb, stored_powers
from vaultapi.crypto.srp import N_BYTES, N

IDENTITY, PASSWORD, SALT = "comb@example.com", "a password", bytes(range(16))
VERIFIER = srp.compute_verifier(IDENTITY, PASSWORD, SALT)
STORED = srp.verifier_powers(VERIFIER)
COMB = srp.verifier_comb(VERIFIER, STORED)
LIMIT = 2 ** (ROWS * SPACING)


def test_the_stored_form_is_the_tag_then_the_powers() -> None:
    assert len(STORED) == TAG_BYTES + (ROWS - 1) * N_BYTES == 1552
    powers = STORED[TAG_BYTES:]
    for j in range(1, ROWS):
        power = int.from_bytes(powers[(j - 1) * N_BYTES : j * N_BYTES], "big")
        assert power == pow(VERIFIER, 2 ** (SPACING * j), N)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=LIMIT - 1))
def test_equals_pow_for_every_exponent_in_range(exponent: int) -> None:
    assert COMB is not None
    assert COMB.power(exponent) == pow(VERIFIER, exponent, N)


@pytest.mark.parametrize(
    "exponent",
    [
        0,
        1,
        2,
        2**SPACING - 1,  # the bottom row full, the others empty
        2**SPACING,  # the first bit of the second row
        2 ** (SPACING * (ROWS - 1)),  # the first bit of the top row
        2**255,
        2**256 - 1,  # every bit of a SHA-256 output
        LIMIT - 1,  # every column full
        sum(2 ** (SPACING * j) for j in range(ROWS)),  # one full column, the lowest
        sum(2 ** (SPACING * j + SPACING - 1) for j in range(ROWS)),  # the highest
    ],
)
def test_equals_pow_at_the_edges(exponent: int) -> None:
    assert COMB is not None
    assert COMB.power(exponent) == pow(VERIFIER, exponent, N)


@pytest.mark.parametrize("exponent", [LIMIT, LIMIT + 12345, 2**3000 + 1, -3])
def test_exponents_beyond_the_comb_still_give_pow(exponent: int) -> None:
    assert COMB is not None
    assert COMB.power(exponent) == pow(VERIFIER, exponent, N)


def test_every_exponent_of_a_small_group() -> None:
    """Three rows of four bits over a small prime: every exponent."""
    base, modulus = 5, 1019
    bases = [pow(base, 2 ** (4 * j), modulus) for j in range(3)]
    comb = Comb(bases, modulus, spacing=4)
    assert [int(comb.power(e)) for e in range(2**12)] == [
        pow(base, e, modulus) for e in range(2**12)
    ]


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :]


@pytest.mark.parametrize(
    "stored",
    [
        None,
        b"",
        STORED[:-1],  # one byte short
        STORED + b"\x00",
        srp.verifier_powers(VERIFIER + 1),  # another verifier's
        _flip(STORED, 0),  # the tag
        _flip(STORED, TAG_BYTES + 5),  # a power
        _flip(STORED, len(STORED) - 1),  # the last power's last byte
    ],
    ids=["none", "empty", "short", "long", "other", "tag", "power", "last"],
)
def test_stored_powers_that_are_not_the_verifiers_are_refused(stored: bytes | None) -> None:
    assert srp.verifier_comb(VERIFIER, stored) is None


def test_a_power_out_of_range_is_refused_even_with_a_matching_tag() -> None:
    """The tag is a plain hash: one computed over out-of-range bytes matches
    them. Such a value is refused all the same."""
    from vaultapi.crypto.comb import _tag

    powers = b"\xff" * N_BYTES + STORED[TAG_BYTES + N_BYTES :]
    forged = _tag(VERIFIER, powers, N_BYTES) + powers
    assert VerifierComb.load(VERIFIER, forged, N, N_BYTES) is None


def test_the_verifier_must_be_a_group_element() -> None:
    with pytest.raises(srp.SRPError):
        srp.verifier_powers(1)
    with pytest.raises(srp.SRPError):
        srp.verifier_powers(N)
    assert stored_powers(VERIFIER, N, N_BYTES) == STORED


def _handshake(password: str = PASSWORD) -> tuple[srp.ClientStart, srp.ServerChallenge, bytes]:
    start = srp.client_start()
    challenge = srp.server_challenge(VERIFIER)
    proof = srp.client_proof(IDENTITY, password, SALT, start, challenge.public_B)
    return start, challenge, proof.M1


def test_verify_answers_the_same_with_the_comb_and_without() -> None:
    for _ in range(5):
        start, challenge, m1 = _handshake()
        plain = srp.server_verify(IDENTITY, SALT, VERIFIER, start.public_A, challenge, m1)
        combed = srp.server_verify(
            IDENTITY, SALT, VERIFIER, start.public_A, challenge, m1, comb=COMB
        )
        assert combed == plain


def test_a_wrong_proof_fails_with_the_comb_too() -> None:
    start, challenge, m1 = _handshake("not the password")
    with pytest.raises(srp.SRPProofError):
        srp.server_verify(IDENTITY, SALT, VERIFIER, start.public_A, challenge, m1, comb=COMB)


def test_another_verifiers_comb_is_refused() -> None:
    start, challenge, m1 = _handshake()
    other = srp.compute_verifier(IDENTITY, "another password", SALT)
    other_comb = srp.verifier_comb(other, srp.verifier_powers(other))
    with pytest.raises(srp.SRPError, match="another verifier"):
        srp.server_verify(IDENTITY, SALT, VERIFIER, start.public_A, challenge, m1, comb=other_comb)


def test_without_gmpy2_the_comb_is_not_used_and_the_answer_is_the_same() -> None:
    start, challenge, m1 = _handshake()
    expected = srp.server_verify(IDENTITY, SALT, VERIFIER, start.public_A, challenge, m1)
    srp.use_gmpy2(False)
    try:
        assert (
            srp.server_verify(IDENTITY, SALT, VERIFIER, start.public_A, challenge, m1, comb=COMB)
            == expected
        )
    finally:
        srp.use_gmpy2(True)


def test_the_comb_is_what_verify_computes_v_to_the_u_with(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not only the same answer: verify takes v^u from the comb (the
    speed-up is real), once per verify."""
    exponents: list[int] = []
    power = Comb.power

    def counting(self: Comb, exponent: int) -> object:
        exponents.append(exponent)
        return power(self, exponent)

    monkeypatch.setattr(Comb, "power", counting)
    start, challenge, m1 = _handshake()
    srp.server_verify(IDENTITY, SALT, VERIFIER, start.public_A, challenge, m1, comb=COMB)
    assert len(exponents) == 1
    assert 0 < exponents[0] < 2**256  # u, a SHA-256 output
