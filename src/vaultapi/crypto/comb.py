"""v^u at srp/verify from powers of v stored with the account: a fixed-base comb.

Why: srp/verify computes S = (A * v^u)^b. Its two exponentiations are most
of a login's CPU (GMP's `powmod`, about 1 ms each for a 256-bit exponent in
the 3072-bit group on the bench machine). The second one has a fresh base
every time, but v is fixed for an account until its password or e-mail
changes: powers of v can be computed once, when v is set, and stored with it.

Method: the fixed-base comb (Lim and Lee, CRYPTO '94; HAC Algorithm 14.117)
with `ROWS` = 5 rows of `SPACING` = 52 bits (5 x 52 = 260, enough for u's
256). What is stored for an account (`stored_powers`, 1,552 bytes): a 16-byte
tag, then v^(2^52), v^(2^104), v^(2^156) and v^(2^208), each as 384
big-endian bytes (PAD). The tag is the first 16 bytes of SHA-256 over a
context string, PAD(v) and the four powers: it binds them to v. At verify,
`VerifierComb.load` builds the 31 products of v and those four (26
multiplications); v^u then takes 52 squarings and at most 52
multiplications instead of powmod's ~256 squarings and ~50 multiplications
(measured: 0.44-0.74 ms instead of 1.0-1.3 ms, building included). The
arithmetic is still GMP's (`*` and `%` on mpz; Python's int without
gmpy2), and the result is the same integer as `pow(v, u, N)`: the tests
compare them.

Timing: which table entries are read depends on u alone, and u = H(A | B) is
public. v, the secret, is only ever an operand, as it is in `powmod`.

Integrity: `load` refuses (answers None) a stored value whose length or tag
does not match, for instance one left over from a verifier that a code path
changed without it, or one damaged by accident. The caller then computes
the powers again (srp/verify stores them), with the same result. The tag is
a plain hash, not a MAC: someone who can write the table can also replace v
itself, so a key would protect nothing more.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import itertools
from collections.abc import Sequence
from typing import Any

try:
    from gmpy2 import mpz, powmod
except ImportError:  # pragma: no cover - gmpy2 is a dependency; the same integers without it
    mpz, powmod = int, pow

ROWS = 5
SPACING = 52
"""Bits per row: the comb covers exponents below 2^(ROWS * SPACING) = 2^260."""
TAG_BYTES = 16
_TAG_CONTEXT = b"vaultapi/comb/v1\x00"


@functools.cache
def _column_index(rows: int) -> dict[tuple[str, ...], int]:
    """A column of the exponent's bits, read as characters from the top row
    down, to its table index."""
    return {column: int("".join(column), 2) for column in itertools.product("01", repeat=rows)}


class Comb:
    """`power(e)` == pow(bases[0], e, modulus) for 0 <= e < 2^(len(bases) * spacing),
    given `bases[j]` = bases[0]^(2^(spacing * j)) mod modulus (not checked here:
    `VerifierComb.load` checks what it reads)."""

    __slots__ = ("_index", "_limit", "_modulus", "_rows", "_spacing", "_table")

    def __init__(self, bases: Sequence[Any], modulus: Any, spacing: int) -> None:
        if not bases or spacing < 1:
            raise ValueError("a comb needs at least one base and a positive spacing")
        self._modulus = mpz(modulus)
        self._rows = len(bases)
        self._spacing = spacing
        self._limit = 1 << (spacing * len(bases))
        # _table[i] = product of bases[j] for every bit j set in i.
        table = [mpz(1)]
        for base in bases:
            base = mpz(base) % self._modulus
            table += [base, *(entry * base % self._modulus for entry in table[1:])]
        self._table = table
        self._index = _column_index(len(bases))

    @property
    def base(self) -> Any:
        return self._table[1]

    def power(self, exponent: int) -> Any:
        """base^exponent mod modulus, as an mpz."""
        if not 0 <= exponent < self._limit:
            return powmod(self.base, exponent, self._modulus)
        spacing, modulus, table, rows = self._spacing, self._modulus, self._table, self._rows
        mask = (1 << spacing) - 1
        # Row j holds bits [spacing*j, spacing*(j+1)) of the exponent; column i
        # is bit i of every row. Each row as binary digits, top row first,
        # most significant bit first: zip gives the columns from the top.
        digits = [
            format((exponent >> (spacing * j)) & mask, f"0{spacing}b")
            for j in range(rows - 1, -1, -1)
        ]
        index = self._index
        columns = iter(zip(*digits, strict=True))
        result = table[index[next(columns)]]
        for column in columns:
            result = result * result % modulus
            entry = index[column]
            if entry:
                result = result * table[entry] % modulus
        return result


def _tag(verifier: int, powers: bytes, length: int) -> bytes:
    """SHA-256 over v and its stored powers: a stale or damaged value does not match."""
    return hashlib.sha256(_TAG_CONTEXT + verifier.to_bytes(length, "big") + powers).digest()[
        :TAG_BYTES
    ]


def stored_powers(verifier: int, modulus: int, element_bytes: int) -> bytes:
    """What an account stores with its verifier: the tag, then
    v^(2^(SPACING * j)) for j = 1 .. ROWS-1, each `element_bytes` long (about
    0.7 ms: 208 squarings)."""
    modulus_mpz = mpz(modulus)
    power = mpz(verifier)
    powers = []
    for _ in range(ROWS - 1):
        power = powmod(power, 1 << SPACING, modulus_mpz)
        powers.append(int(power).to_bytes(element_bytes, "big"))
    joined = b"".join(powers)
    return _tag(verifier, joined, element_bytes) + joined


class VerifierComb(Comb):
    """A `Comb` over an account's verifier, from its `stored_powers`."""

    __slots__ = ()

    @classmethod
    def load(
        cls, verifier: int, stored: bytes | None, modulus: int, element_bytes: int
    ) -> VerifierComb | None:
        """The comb, or None when `stored` is missing, malformed or not v's
        (or v itself is not below the modulus: verify then refuses it)."""
        if not 0 < verifier < modulus:
            return None
        if stored is None or len(stored) != TAG_BYTES + (ROWS - 1) * element_bytes:
            return None
        tag, powers = stored[:TAG_BYTES], stored[TAG_BYTES:]
        if not hmac.compare_digest(tag, _tag(verifier, powers, element_bytes)):
            return None
        bases = [mpz(verifier)]
        for offset in range(0, len(powers), element_bytes):
            bases.append(mpz(int.from_bytes(powers[offset : offset + element_bytes], "big")))
        if any(not 0 < base < modulus for base in bases):
            return None
        return cls(bases, modulus, SPACING)
