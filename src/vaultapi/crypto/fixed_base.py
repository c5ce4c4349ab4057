"""g^e mod N for the one fixed generator of the SRP group, from precomputed powers.

Why: the server computes g^b at every `srp/start` (B = k*v + g^b). With a
256-bit b and the 3072-bit N, GMP's `powmod` takes about 0.7 ms of CPU, an
eighth of a whole login's budget. Because g and N never change, the powers
g^(d * 2^(8i)) for every byte position i and byte value d can be computed
once per process (32 x 256 of them, 3 MiB, about 25 ms). Then g^e is the
product of one table entry per non-zero byte of e: at most 32 modular
multiplications instead of ~256 squarings, about 0.1 ms. This is the
textbook fixed-base windowing method (Brickell, Gordon, McCurley and Wilson,
EUROCRYPT '92; HAC 14.109); the arithmetic is still GMP's (`*` and `%` on
mpz).

The results are the same integers as `pow(g, e, N)`: the tests compare them
for random, edge and out-of-range exponents, and the RFC 5054 vectors go
through it. Exponents outside [0, 2^256) are handed to `powmod` unchanged.

Timing: the entries read depend on the bytes of e, as the windows of GMP's
own `powmod` already do (neither is constant time, and the server's other use
of b, S = (A * v^u)^b at verify, runs through `powmod`). The only exponent
given here is the server's ephemeral b, drawn fresh for each handshake. What
b would be worth to someone who learned it: v for that account, and with it an
offline guessing attack at one Argon2id per guess. Learning it from timing
needs a process on the same machine reading the cache during one
exponentiation; that threat is outside this server's model (as it is for GMP),
while a remote timing difference is a few microseconds under network noise.

`prepare()` checks one random exponent against `powmod` before the table is
trusted: a process whose table came out wrong refuses to start.
"""

from __future__ import annotations

import secrets
import threading
from typing import Any

from gmpy2 import mpz, powmod

WINDOW_BITS = 8
"""A byte: `power` reads the exponent's bytes as its digits."""


class FixedBasePowers:
    """`power(e)` == pow(base, e, modulus) for 0 <= e < 2^max_bits, faster.

    The table is built at the first call (or by `prepare()`), once per process."""

    def __init__(self, base: int, modulus: int, *, max_bits: int) -> None:
        if modulus < 3 or modulus % 2 == 0:
            raise ValueError("the modulus must be an odd integer above 2")
        if max_bits < 1:
            raise ValueError("max_bits must be positive")
        self.base = mpz(base)
        self.modulus = mpz(modulus)
        self.max_bits = max_bits
        self._table: list[list[Any]] | None = None
        self._lock = threading.Lock()

    def prepare(self) -> None:
        """Build the table now (at startup, not at the first call) and check it
        against `powmod` on one random exponent."""
        self._rows()
        exponent = secrets.randbits(self.max_bits)
        if self.power(exponent) != powmod(self.base, exponent, self.modulus):
            raise ArithmeticError("the table of powers disagrees with powmod")

    def _rows(self) -> list[list[Any]]:
        table = self._table
        if table is None:
            with self._lock:
                table = self._table
                if table is None:
                    table = self._table = self._build()
        return table

    def _build(self) -> list[list[Any]]:
        """rows[i][d] = base^(d * 2^(WINDOW_BITS * i)) mod modulus."""
        rows = []
        power = self.base % self.modulus  # base^(2^(WINDOW_BITS * i))
        for _ in range(-(-self.max_bits // WINDOW_BITS)):
            row = [mpz(1)]
            for _ in range((1 << WINDOW_BITS) - 1):
                row.append(row[-1] * power % self.modulus)
            rows.append(row)
            power = row[-1] * power % self.modulus
        return rows

    def power(self, exponent: int) -> Any:
        """base^exponent mod modulus, as an mpz."""
        if exponent < 0 or exponent.bit_length() > self.max_bits:
            return powmod(self.base, exponent, self.modulus)
        rows = self._rows()
        modulus = self.modulus
        result = mpz(1)
        # One byte per row (WINDOW_BITS == 8), least significant first.
        for row, digit in zip(rows, int(exponent).to_bytes(len(rows), "little"), strict=True):
            if digit:
                result = result * row[digit] % modulus
        return result % modulus
