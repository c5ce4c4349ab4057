"""The table of powers of g gives exactly `pow(g, e, N)`, and srp/start uses it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaultapi.crypto import srp
from vaultapi.crypto.fixed_base import FixedBasePowers
from vaultapi.crypto.srp import EPHEMERAL_BITS, G, N

POWERS = FixedBasePowers(G, N, max_bits=EPHEMERAL_BITS)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=2**EPHEMERAL_BITS - 1))
def test_equals_pow_for_every_exponent_in_range(exponent: int) -> None:
    assert POWERS.power(exponent) == pow(G, exponent, N)


@pytest.mark.parametrize(
    "exponent",
    [
        0,
        1,
        2,
        255,
        256,
        257,
        2**8 - 1,
        2**248,  # only the top byte set
        2**255,
        2**EPHEMERAL_BITS - 1,  # every byte 0xff
        int("01" * 32, 16),  # every byte 0x01
        int("ff00" * 16, 16),  # zero bytes in between
    ],
)
def test_equals_pow_at_the_edges(exponent: int) -> None:
    assert POWERS.power(exponent) == pow(G, exponent, N)


@pytest.mark.parametrize("exponent", [2**EPHEMERAL_BITS, 2**EPHEMERAL_BITS + 12345, 2**3000 + 1])
def test_exponents_beyond_the_table_still_give_pow(exponent: int) -> None:
    assert POWERS.power(exponent) == pow(G, exponent, N)


def test_a_negative_exponent_is_the_inverse_as_with_pow() -> None:
    assert POWERS.power(-3) == pow(G, -3, N)


def test_every_exponent_of_a_small_group() -> None:
    """Ten bits, a window and a bit: every exponent, including those that end
    in a partial window."""
    small = FixedBasePowers(5, 1019, max_bits=10)
    assert [int(small.power(e)) for e in range(2**10)] == [pow(5, e, 1019) for e in range(2**10)]


def test_a_base_above_the_modulus_is_reduced() -> None:
    powers = FixedBasePowers(1019 * 3 + 7, 1019, max_bits=16)
    assert all(powers.power(e) == pow(7, e, 1019) for e in (0, 1, 300, 65535))


@pytest.mark.parametrize(("modulus", "max_bits"), [(2, 8), (1024, 8), (1019, 0)])
def test_refuses_what_it_cannot_serve(modulus: int, max_bits: int) -> None:
    with pytest.raises(ValueError, match=r"modulus|max_bits"):
        FixedBasePowers(5, modulus, max_bits=max_bits)


def test_srp_start_reads_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """B's g^b comes from the table, and B is srptools' formula with `pow`.
    (`test_srp.py` checks B on vectors and against srptools' own sessions;
    this shows that the table is the path those checks went through.)"""
    table = srp._V1_GENERATOR_POWERS
    assert table is not None
    asked: list[int] = []

    def power(exponent: int) -> object:
        asked.append(exponent)
        return FixedBasePowers.power(table, exponent)

    monkeypatch.setattr(table, "power", power)
    verifier = srp.compute_verifier("table@example.com", "00" * 32, b"\x01" * 16)
    b = 2**255 + 12345
    challenge = srp.server_challenge(verifier, private_b=b)
    assert asked == [b]
    k = srp._context(srp._V1, "")._mult
    assert challenge.public_B == (k * verifier + pow(G, b, N)) % N


def test_prepare_refuses_a_table_that_disagrees_with_powmod() -> None:
    powers = FixedBasePowers(G, N, max_bits=EPHEMERAL_BITS)
    powers.prepare()  # a correct table passes
    assert powers._table is not None
    for row in powers._table:
        row[1:] = [row[1] + 1] * (len(row) - 1)  # every non-zero byte reads a wrong power
    with pytest.raises(ArithmeticError, match="disagrees with powmod"):
        powers.prepare()
