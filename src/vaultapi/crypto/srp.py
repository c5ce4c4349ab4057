"""SRP-6a for suite v1, computed by srptools 2.x.

Parameters: the RFC 5054 3072-bit group (N below, g = 5), H = SHA-256,
ephemeral secrets a and b of 256 random bits, srp_salt s of 16 bytes.
I is the normalized e-mail (`kdf.normalize_email`), P the lowercase hex of
auth_key (`kdf.srp_password`). Strings are hashed as UTF-8.

Byte conversions. `PAD(n)` is n big-endian, left-padded with zeros to 384
bytes. `MIN(n)` is n big-endian in the fewest bytes, without leading zero
bytes (0 becomes one zero byte). A hash output used as a number is the
big-endian integer of its 32-byte digest. `|` is concatenation.

srptools' formulas, which this suite follows exactly (a third party must
reproduce them byte for byte; lines with a quirk are marked *):

```
k  = H(MIN(N) | PAD(g))
x  = H(s | H(I | ":" | P))            s: the 16 raw salt bytes, inner H as 32 raw bytes
v  = g^x mod N
A  = g^a mod N
B  = (k*v + g^b) mod N
u  = H(PAD(A) | PAD(B))
S  = (B - k*g^x)^(a + u*x) mod N       client (reduce B - k*g^x mod N first: it is negative)
S  = (A * v^u)^b mod N                 server
K  = H(MIN(S))                       *
M1 = H(MIN(H(N) xor H(g)) | MIN(H(I)) | s | MIN(A) | MIN(B) | K)   *
M2 = H(MIN(A) | M1 | K)              *
```

The quirks, where implementations that pad every number differ:

* K hashes S unpadded: about 1 handshake in 256 has a 383-byte S.
* In M1, H(N) is H(MIN(N)) and H(g) is H(MIN(g)), the SHA-256 of the single
  byte 0x05 (k uses PAD(g)). Their XOR, and H(I), are taken as numbers and
  re-encoded with MIN: a leading zero byte is dropped (about 1 identity in 256
  gives a 31-byte H(I)). The XOR for this group has no leading zero byte.
* In M1 and M2, A and B are MIN-encoded, although u hashes them PAD-ed.
* M1 and M2 are 32 raw bytes; s is never re-encoded (leading zeros kept).

Wire format (ours, not srptools'): v, A and B travel as exactly 768 lowercase
hex characters (PAD), proofs as exactly 64 lowercase hex characters.
`parse_group_element` accepts only 1 < value < N-1: this rejects the
degenerate values 0, 1 and N-1 (and any multiple of N), so that A = 0 mod N
(which would let a client log in without the password) cannot get through.
The server also never sends a B outside that range, so the client's own check
never refuses an honest server.

Single use of a challenge (b) is the caller's job: srptools accepts the same
M1 twice on one session.

Speed: srptools computes with Python's `pow`. When gmpy2 is importable, a
context subclass passes GMP integers (mpz) into srptools' own methods, so
`pow` there runs in GMP while the formulas stay srptools' code; every value
returned from this module is a plain `int`. One exception: the server's g^b
comes from a table of precomputed powers of g (`vaultapi.crypto.fixed_base`,
about 0.1 ms instead of 0.7 ms), in B = (k*v + g^b) mod N written out as
srptools writes it. And v^u at verify comes from powers of v stored with the
account (`vaultapi.crypto.comb`, about 0.6 ms instead of 1.1 ms), in
S = (A * v^u)^b mod N written out as srptools writes it. `use_gmpy2(False)`
switches all of this back to srptools alone; results are identical either way
(the tests check).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from srptools import SRPContext
from srptools.constants import PRIME_3072, PRIME_3072_GEN

from vaultapi.crypto import CryptoError, _utf8
from vaultapi.crypto.comb import VerifierComb, stored_powers

try:
    from gmpy2 import mpz as _mpz

    from vaultapi.crypto.fixed_base import FixedBasePowers
except ImportError:  # pragma: no cover - gmpy2 is a dependency; pure Python still works
    _mpz = None

N: int = int(PRIME_3072, 16)
G: int = int(PRIME_3072_GEN, 16)
N_BYTES = 384
HEX_WIDTH = 2 * N_BYTES
SRP_SALT_BYTES = 16
EPHEMERAL_BITS = 256
PROOF_BYTES = 32
PROOF_HEX_WIDTH = 2 * PROOF_BYTES

_LOWER_HEX = re.compile(r"[0-9a-f]+")


class SRPError(CryptoError):
    """A malformed or out-of-range SRP value."""


class SRPProofError(CryptoError):
    """A proof (M1 or M2) that does not verify."""


# --- group, contexts, gmpy2 switch -------------------------------------------------------------


@dataclass(frozen=True)
class _Group:
    """What srptools needs besides I and P. Only the tests use a group other than `_V1`."""

    prime: int
    generator: int
    hash_func: Callable[..., Any]


_V1 = _Group(prime=N, generator=G, hash_func=hashlib.sha256)
_V1_GENERATOR_POWERS = FixedBasePowers(G, N, max_bits=EPHEMERAL_BITS) if _mpz is not None else None
"""g^b for the server's b (`vaultapi.crypto.fixed_base`): a table instead of `powmod`."""


class _GmpContext(SRPContext):  # type: ignore[misc]  # srptools ships no type information
    """srptools' context with its `pow` calls fed GMP integers.

    Each override hands an mpz exponent (or base) to srptools' own method:
    Python's `pow` then dispatches to gmpy2, while the formula itself is still
    the one in srptools. Results are converted back to `int`.
    """

    def get_common_password_verifier(self, password_hash: int) -> int:
        return int(super().get_common_password_verifier(_mpz(password_hash)))

    def get_client_public(self, *, client_private: int) -> int:
        return int(super().get_client_public(client_private=_mpz(client_private)))

    def get_server_public(self, *, password_verifier: int, server_private: int) -> int:
        """B = (k*v + g^b) % N. In the v1 group, this is srptools' formula
        written out, with g^b read from the generator's table of powers
        (`vaultapi.crypto.fixed_base`, the same integer as `pow`); in any
        other group, srptools' own method."""
        powers = _V1_GENERATOR_POWERS
        if powers is not None and self._gen == G and self._prime == N:
            g_b = powers.power(server_private)
            return int((self._mult * _mpz(password_verifier) + g_b) % self._prime)
        return int(
            super().get_server_public(
                password_verifier=password_verifier, server_private=_mpz(server_private)
            )
        )

    def get_client_premaster_secret(
        self, *, password_hash: int, server_public: int, client_private: int, common_secret: int
    ) -> int:
        return int(
            super().get_client_premaster_secret(
                password_hash=password_hash,
                server_public=server_public,
                client_private=_mpz(client_private),
                common_secret=common_secret,
            )
        )

    verifier_comb: VerifierComb | None = None
    """Set on a v1 server session whose verifier has stored powers."""

    def get_server_premaster_secret(
        self, *, password_verifier: int, server_private: int, client_public: int, common_secret: int
    ) -> int:
        """S = (A * v^u) ^ b % N: with the account's comb, srptools' formula
        written out with v^u from the comb (the same integer as `pow`);
        otherwise srptools' own method."""
        comb = self.verifier_comb
        if comb is not None:
            return int(
                pow(client_public * comb.power(common_secret), _mpz(server_private), self._prime)
            )
        return int(
            super().get_server_premaster_secret(
                password_verifier=_mpz(password_verifier),
                server_private=_mpz(server_private),
                client_public=client_public,
                common_secret=common_secret,
            )
        )


_gmpy2_enabled = _mpz is not None


def use_gmpy2(enabled: bool) -> None:
    """Switch GMP exponentiation on or off for this process (default: on if gmpy2 imports)."""
    global _gmpy2_enabled
    if enabled and _mpz is None:  # pragma: no cover - gmpy2 is a dependency
        raise CryptoError("gmpy2 is not installed")
    _gmpy2_enabled = bool(enabled)


def gmpy2_enabled() -> bool:
    return _gmpy2_enabled


def prepare() -> None:
    """Build the generator's table of powers now (about 25 ms), so that the
    first `srp/start` a worker serves does not pay for it."""
    if _V1_GENERATOR_POWERS is not None:
        _V1_GENERATOR_POWERS.prepare()


def _context(group: _Group, identity: str, password: str | None = None) -> Any:
    context_class = _GmpContext if _gmpy2_enabled else SRPContext
    return context_class(
        identity,
        password,
        prime=format(group.prime, "x"),
        generator=format(group.generator, "x"),
        hash_func=group.hash_func,
        bits_random=EPHEMERAL_BITS,
        bits_salt=8 * SRP_SALT_BYTES,
    )


# --- srptools computations, any group ----------------------------------------------------------


@dataclass(frozen=True)
class _Session:
    """Everything one side derives in a handshake (what the test vectors show)."""

    u: int
    premaster_secret: int
    session_key: bytes
    m1: bytes
    m2: bytes


def _password_hash(group: _Group, identity: str, password: str, salt: bytes) -> int:
    """x = H(s | H(I | ":" | P))."""
    return int(_context(group, identity, password).get_common_password_hash(salt))


def _verifier(group: _Group, identity: str, password: str, salt: bytes) -> int:
    context = _context(group, identity, password)
    return int(context.get_common_password_verifier(context.get_common_password_hash(salt)))


def _client_public(group: _Group, private_a: int) -> int:
    return int(_context(group, "").get_client_public(client_private=private_a))


def _server_public(group: _Group, verifier: int, private_b: int) -> int:
    context = _context(group, "")
    return int(context.get_server_public(password_verifier=verifier, server_private=private_b))


def _common_secret(context: Any, public_a: int, public_b: int) -> int:
    u = int(context.get_common_secret(public_b, public_a))
    if u == 0:
        raise SRPError("u = H(PAD(A) | PAD(B)) is zero: abort this handshake")
    return u


def _proofs(
    context: Any, salt: bytes, public_a: int, public_b: int, u: int, premaster: int
) -> _Session:
    """K, M1 and M2 from S, in the order srptools' sessions compute them."""
    key = bytes(context.get_common_session_key(premaster))
    m1 = bytes(
        context.get_common_session_key_proof(
            session_key=key, salt=salt, server_public=public_b, client_public=public_a
        )
    )
    m2 = bytes(
        context.get_common_session_key_proof_hash(
            session_key=key, session_key_proof=m1, client_public=public_a
        )
    )
    return _Session(u=u, premaster_secret=premaster, session_key=key, m1=m1, m2=m2)


def _server_session(
    group: _Group,
    identity: str,
    salt: bytes,
    verifier: int,
    public_a: int,
    private_b: int,
    public_b: int,
    comb: VerifierComb | None = None,
) -> _Session:
    context = _context(group, identity)
    if comb is not None and isinstance(context, _GmpContext) and group is _V1:
        context.verifier_comb = comb
    u = _common_secret(context, public_a, public_b)
    premaster = context.get_server_premaster_secret(
        password_verifier=verifier,
        server_private=private_b,
        client_public=public_a,
        common_secret=u,
    )
    return _proofs(context, salt, public_a, public_b, u, int(premaster))


def _client_session(
    group: _Group,
    identity: str,
    password: str,
    salt: bytes,
    private_a: int,
    public_a: int,
    public_b: int,
) -> _Session:
    context = _context(group, identity, password)
    u = _common_secret(context, public_a, public_b)
    premaster = context.get_client_premaster_secret(
        password_hash=context.get_common_password_hash(salt),
        server_public=public_b,
        client_private=private_a,
        common_secret=u,
    )
    return _proofs(context, salt, public_a, public_b, u, int(premaster))


# --- wire encoding and input checks ------------------------------------------------------------


def _check_element(value: object, name: str) -> int:
    """`value` must be an int with 1 < value < N-1 (see the module docstring)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise SRPError(f"{name} must be an integer")
    if not 1 < value < N - 1:
        raise SRPError(f"{name} is out of range: it must satisfy 1 < {name} < N-1")
    return value


def _check_private(value: object, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise SRPError(f"{name} must be an integer")
    if not 1 < value < N:
        raise SRPError(f"{name} is out of range: it must satisfy 1 < {name} < N")
    return value


def _check_salt(salt: object) -> bytes:
    if not isinstance(salt, bytes) or len(salt) != SRP_SALT_BYTES:
        raise SRPError(f"srp_salt must be exactly {SRP_SALT_BYTES} bytes")
    return salt


def _check_proof(value: object, name: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != PROOF_BYTES:
        raise SRPError(f"{name} must be exactly {PROOF_BYTES} bytes")
    return value


def _check_text(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise SRPError(f"{name} must be a string")
    _utf8(value, name=name, error=SRPError)
    return value


def _random_private() -> int:
    """256 bits from `secrets`; 0 and 1 (probability 2^-255) are drawn again."""
    while True:
        value = secrets.randbits(EPHEMERAL_BITS)
        if value > 1:
            return value


def encode_int(value: int) -> str:
    """An element of Z_N as exactly 768 lowercase hex characters (PAD(value) in hex)."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < N:
        raise SRPError("only integers 0 <= value < N can be encoded")
    return format(value, f"0{HEX_WIDTH}x")


def parse_group_element(value: str, *, name: str) -> int:
    """Strictly parse v, A or B from the wire; `name` is used in the error message.

    Exactly 768 characters of [0-9a-f] (no uppercase, '0x', sign, whitespace
    or '_'), then 1 < value < N-1. The length is checked first, so a
    multi-megabyte string is refused without being scanned.
    """
    if not isinstance(value, str):
        raise SRPError(f"{name} must be a string of {HEX_WIDTH} lowercase hex characters")
    if len(value) != HEX_WIDTH:
        raise SRPError(f"{name} must be exactly {HEX_WIDTH} lowercase hex characters")
    if _LOWER_HEX.fullmatch(value) is None:
        raise SRPError(f"{name} must contain only lowercase hex digits 0-9 a-f")
    return _check_element(int(value, 16), name)


def parse_proof(value: str) -> bytes:
    """M1 or M2 from the wire: exactly 64 lowercase hex characters -> 32 bytes."""
    if (
        not isinstance(value, str)
        or len(value) != PROOF_HEX_WIDTH
        or _LOWER_HEX.fullmatch(value) is None
    ):
        raise SRPError(f"a proof must be exactly {PROOF_HEX_WIDTH} lowercase hex characters")
    return bytes.fromhex(value)


# --- registration ------------------------------------------------------------------------------


def compute_verifier(identity: str, password: str, salt: bytes) -> int:
    """v = g^x mod N, made by the client at registration and password change."""
    verifier = _verifier(
        _V1, _check_text(identity, "identity"), _check_text(password, "password"), _check_salt(salt)
    )
    return _check_element(verifier, "verifier")


# --- server side -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerChallenge:
    """The server's ephemeral state between srp/start and srp/verify: store it, use it once."""

    private_b: int
    public_B: int  # noqa: N815 - SRP's name


def server_challenge(verifier: int, *, private_b: int | None = None) -> ServerChallenge:
    """b (random unless given, for test vectors) and B = (k*v + g^b) mod N.

    A random b is drawn again in the (negligible) case where B would fall
    outside 1 < B < N-1, which includes B mod N == 0; a given b that does so
    raises `SRPError`.
    """
    _check_element(verifier, "verifier")
    if private_b is not None:
        _check_private(private_b, "private_b")
        public_b = _server_public(_V1, verifier, private_b)
        return ServerChallenge(private_b, _check_element(public_b, "B"))
    while True:
        b = _random_private()
        public_b = _server_public(_V1, verifier, b)
        if 1 < public_b < N - 1:
            return ServerChallenge(b, public_b)


def verifier_powers(verifier: int) -> bytes:
    """What the server stores with a verifier so that verify's v^u is cheaper
    (`vaultapi.crypto.comb`, 1,552 bytes; about 0.7 ms to compute)."""
    return stored_powers(_check_element(verifier, "verifier"), N, N_BYTES)


def verifier_comb(verifier: int, stored: bytes | None) -> VerifierComb | None:
    """The comb for `server_verify` from what `verifier_powers` made, or None
    when `stored` is missing or does not belong to this verifier. Only
    `server_verify` with gmpy2 uses it (`use_gmpy2`)."""
    return VerifierComb.load(verifier, stored, N, N_BYTES)


def server_verify(
    identity: str,
    salt: bytes,
    verifier: int,
    public_A: int,  # noqa: N803 - SRP's name
    challenge: ServerChallenge,
    client_proof: bytes,
    *,
    comb: VerifierComb | None = None,
) -> bytes:
    """Check the client's M1 in constant time and return M2 (32 bytes).

    `comb`: the verifier's (`verifier_comb`), for a cheaper v^u; the result
    is the same without it.

    Raises `SRPError` for malformed input (A outside 1 < A < N-1, so A mod N
    == 0 among others; u == 0) and `SRPProofError` when M1 does not verify.
    """
    if not isinstance(challenge, ServerChallenge):
        raise SRPError("challenge must be a ServerChallenge")
    if comb is not None and comb.base != verifier:
        raise SRPError("the comb belongs to another verifier")
    session = _server_session(
        _V1,
        _check_text(identity, "identity"),
        _check_salt(salt),
        _check_element(verifier, "verifier"),
        _check_element(public_A, "A"),
        _check_private(challenge.private_b, "private_b"),
        _check_element(challenge.public_B, "B"),
        comb,
    )
    if not secrets.compare_digest(_check_proof(client_proof, "M1"), session.m1):
        raise SRPProofError("the client proof M1 does not verify")
    return session.m2


# --- client side -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientStart:
    private_a: int
    public_A: int  # noqa: N815 - SRP's name


def client_start(*, private_a: int | None = None) -> ClientStart:
    """a (random unless given, for test vectors) and A = g^a mod N, with 1 < A < N-1."""
    if private_a is not None:
        _check_private(private_a, "private_a")
        return ClientStart(private_a, _check_element(_client_public(_V1, private_a), "A"))
    while True:
        a = _random_private()
        public_a = _client_public(_V1, a)
        if 1 < public_a < N - 1:
            return ClientStart(a, public_a)


@dataclass(frozen=True)
class ClientProof:
    M1: bytes
    expected_M2: bytes  # noqa: N815 - SRP's name
    session_key: bytes


def client_proof(
    identity: str,
    password: str,
    salt: bytes,
    start: ClientStart,
    public_B: int,  # noqa: N803 - SRP's name
) -> ClientProof:
    """M1 to send, the M2 to expect back, and K. `SRPError` if B is out of range or u == 0."""
    if not isinstance(start, ClientStart):
        raise SRPError("start must be a ClientStart")
    session = _client_session(
        _V1,
        _check_text(identity, "identity"),
        _check_text(password, "password"),
        _check_salt(salt),
        _check_private(start.private_a, "private_a"),
        _check_element(start.public_A, "A"),
        _check_element(public_B, "B"),
    )
    return ClientProof(M1=session.m1, expected_M2=session.m2, session_key=session.session_key)


def verify_server_proof(proof: ClientProof, M2: bytes) -> None:  # noqa: N803 - SRP's name
    """Constant-time check of the server's M2: a server that cannot produce it does not know v."""
    if not isinstance(proof, ClientProof):
        raise SRPError("proof must be a ClientProof")
    if not secrets.compare_digest(_check_proof(M2, "M2"), proof.expected_M2):
        raise SRPProofError("the server proof M2 does not verify")
