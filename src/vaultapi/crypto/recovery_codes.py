"""Single-use recovery codes: 16 random base32 characters (80 bits), shown to
the user once in groups of four, stored only as argon2id hashes.

The hash parameters are deliberately light (8 MiB, 1 pass): a code carries
80 bits of entropy, so the work factor adds nothing against guessing — argon2
here is about not keeping anything reversible — and a login may have to try
all ten unused hashes of an account.
"""

from __future__ import annotations

import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
CODE_CHARACTERS = 16
_hasher = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
_SHAPE = re.compile(rf"[{ALPHABET}]{{{CODE_CHARACTERS}}}")


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_CHARACTERS))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_CHARACTERS, 4))


def normalize(code: str) -> str | None:
    """Case, spaces and dashes do not matter; None if it cannot be a code."""
    compact = code.lower().replace("-", "").replace(" ", "")
    return compact if _SHAPE.fullmatch(compact) else None


def hash_code(code: str) -> str:
    normalized = normalize(code)
    if normalized is None:
        raise ValueError("not a recovery code")
    return _hasher.hash(normalized)


def matches(code_hash: str, normalized_code: str) -> bool:
    try:
        return _hasher.verify(code_hash, normalized_code)
    except (VerificationError, InvalidHashError):
        return False
