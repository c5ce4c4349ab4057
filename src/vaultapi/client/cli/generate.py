"""`vault generate`: random passwords and passphrases, with their entropy.

Everything random comes from `secrets` (the OS's CSPRNG). A password draws
each character uniformly from the chosen classes and is drawn again until it
has at least one of each (so no position is predictable); a passphrase draws
words uniformly from the EFF large wordlist (7,776 words, 12.9 bits each;
wordlists/NOTICE.md). The entropy printed is that of the generator, which is
what an attacker who knows these settings faces.
"""

from __future__ import annotations

import math
import secrets
import string
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Annotated

import typer

from vaultapi.client.cli.common import err, usage_error

AMBIGUOUS = set("Il1O0o|`'\";:,.")
SYMBOLS = "!#$%&()*+-./:;<=>?@[]^_{|}~"
MIN_LENGTH = 8
MAX_LENGTH = 1024
MIN_WORDS = 3
MAX_WORDS = 64


@dataclass(frozen=True)
class Generated:
    value: str
    entropy_bits: float


class GeneratorError(ValueError):
    """Settings that cannot make a secret (say, every class turned off)."""


def password(
    length: int = 20,
    *,
    lower: bool = True,
    upper: bool = True,
    digits: bool = True,
    symbols: bool = True,
    exclude_ambiguous: bool = False,
) -> Generated:
    classes = [
        chars
        for chars, wanted in (
            (string.ascii_lowercase, lower),
            (string.ascii_uppercase, upper),
            (string.digits, digits),
            (SYMBOLS, symbols),
        )
        if wanted
    ]
    if exclude_ambiguous:
        classes = ["".join(c for c in chars if c not in AMBIGUOUS) for chars in classes]
    if not classes:
        raise GeneratorError("turn on at least one character class")
    if not MIN_LENGTH <= length <= MAX_LENGTH:
        raise GeneratorError(f"length must be between {MIN_LENGTH} and {MAX_LENGTH}")
    if length < len(classes):
        raise GeneratorError(f"{len(classes)} classes need at least {len(classes)} characters")
    alphabet = "".join(classes)
    while True:
        value = "".join(secrets.choice(alphabet) for _ in range(length))
        if all(any(c in chars for c in value) for chars in classes):
            break
    return Generated(value, _password_entropy(length, [len(c) for c in classes]))


def _password_entropy(length: int, class_sizes: list[int]) -> float:
    """log2 of how many strings have at least one character of each class
    (inclusion-exclusion): exactly the generator's entropy."""
    count = 0
    n = len(class_sizes)
    for mask in range(1 << n):
        excluded = sum(size for bit, size in enumerate(class_sizes) if mask >> bit & 1)
        sign = -1 if bin(mask).count("1") % 2 else 1
        count += sign * (sum(class_sizes) - excluded) ** length
    return math.log2(count)


@cache
def wordlist() -> tuple[str, ...]:
    text = (
        resources.files("vaultapi.client.cli")
        .joinpath("wordlists/eff_large_wordlist.txt")
        .read_text(encoding="utf-8")
    )
    return tuple(line.split("\t")[1].strip() for line in text.splitlines() if "\t" in line)


def passphrase(
    words: int = 6,
    *,
    separator: str = "-",
    capitalize: bool = False,
    number: bool = False,
) -> Generated:
    """`number` appends a random digit to one randomly chosen word."""
    if not MIN_WORDS <= words <= MAX_WORDS:
        raise GeneratorError(f"words must be between {MIN_WORDS} and {MAX_WORDS}")
    source = wordlist()
    chosen = [secrets.choice(source) for _ in range(words)]
    if capitalize:
        chosen = [word.capitalize() for word in chosen]
    bits = words * math.log2(len(source))
    if number:
        position = secrets.randbelow(words)
        chosen[position] += str(secrets.randbelow(10))
        bits += math.log2(10 * words)
    return Generated(separator.join(chosen), bits)


def generate(
    length: Annotated[int, typer.Option("--length", "-l", help="Password length")] = 20,
    no_lower: Annotated[bool, typer.Option("--no-lower", help="No a-z")] = False,
    no_upper: Annotated[bool, typer.Option("--no-upper", help="No A-Z")] = False,
    no_digits: Annotated[bool, typer.Option("--no-digits", help="No 0-9")] = False,
    no_symbols: Annotated[bool, typer.Option("--no-symbols", help="No punctuation")] = False,
    exclude_ambiguous: Annotated[
        bool, typer.Option("--exclude-ambiguous", help="Leave out look-alikes: I l 1 O 0 o | ...")
    ] = False,
    use_passphrase: Annotated[
        bool, typer.Option("--passphrase", "-p", help="Words from the EFF list instead")
    ] = False,
    words: Annotated[int, typer.Option("--words", "-w", help="Passphrase: how many words")] = 6,
    separator: Annotated[str, typer.Option("--separator", help="Passphrase: between words")] = "-",
    capitalize: Annotated[
        bool, typer.Option("--capitalize", help="Passphrase: Capitalise each word")
    ] = False,
    number: Annotated[
        bool, typer.Option("--number", help="Passphrase: a digit after one of the words")
    ] = False,
) -> None:
    """Print a random password or passphrase (no login needed).

    The secret goes to stdout, its entropy in bits to stderr."""
    try:
        if use_passphrase:
            made = passphrase(words, separator=separator, capitalize=capitalize, number=number)
        else:
            made = password(
                length,
                lower=not no_lower,
                upper=not no_upper,
                digits=not no_digits,
                symbols=not no_symbols,
                exclude_ambiguous=exclude_ambiguous,
            )
    except GeneratorError as exc:
        raise usage_error(str(exc)) from None
    typer.echo(made.value)
    err.print(f"entropy: {made.entropy_bits:.1f} bits")
