"""SRP login: server CPU per complete login, and logins/s with N workers.

Registers one account, then runs complete logins from this process with C
concurrent clients against the running workers. Server CPU is read from
/proc/<pid>/stat of the worker processes before and after, so the figure is
the server's own cost, whatever the load generator spends on its side.

Target (issue 3): at most 5 ms of server CPU per complete login, all three
requests (prelogin, srp/start, srp/verify), with the 3072-bit group; that is
at least 200 logins/s per core. The reference client sends only the last two
(srp/start answers the KDF parameters too): that figure is a row of its own.

Each figure is the median of `login_rounds` rounds (each round runs both
kinds of login, in turns), so that one burst of other load on a shared machine
does not decide it; the lowest round is printed beside it. The client's
Argon2id runs once (its output does not change between logins); each login
still does the full client SRP work and every request.

    .venv/bin/python -m bench.login [--quick]
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass

import httpx

from bench._support import BenchServer, Row, Sizes, Target
from vaultapi import client
from vaultapi.crypto import srp
from vaultapi.crypto.kdf import MINIMUM_KDF, derive_master_key, derive_subkeys, srp_password

EMAIL = "login-bench@example.com"
PASSWORD = "benchmark password"
SECTION = "SRP login (3072-bit group)"
TARGET_CPU_MS = Target("<=", 5.0)
TARGET_PER_CORE = Target(">=", 200)


async def one_login(
    http: httpx.AsyncClient,
    password_p: str,
    *,
    email: str = EMAIL,
    prelogin: bool = True,
    verify_headers: dict[str, str] | None = None,
) -> None:
    """A complete login: prelogin (unless `prelogin=False`, as the reference
    client does since srp/start answers the KDF parameters too), srp/start
    and srp/verify, with the full client SRP work and the check of M2.
    `verify_headers`: e.g. an empty Authorization, so that a client that
    carries a token still logs in instead of stepping up."""
    if prelogin:
        (await http.post("/v1/auth/prelogin", json={"email": email})).raise_for_status()
    start = srp.client_start()
    challenge = (
        await http.post(
            "/v1/auth/srp/start", json={"email": email, "A": srp.encode_int(start.public_A)}
        )
    ).json()
    proof = srp.client_proof(
        email,
        password_p,
        bytes.fromhex(challenge["srp_salt"]),
        start,
        srp.parse_group_element(challenge["B"], name="B"),
    )
    verified = await http.post(
        "/v1/auth/srp/verify",
        json={"handshake_id": challenge["handshake_id"], "M1": proof.M1.hex()},
        headers=verify_headers or {},
    )
    verified.raise_for_status()
    srp.verify_server_proof(proof, bytes.fromhex(verified.json()["M2"]))


@dataclass(frozen=True)
class Round:
    """CPU seconds per login of the workers and of PostgreSQL, and logins/s."""

    cpu: float
    database_cpu: float
    rate: float


async def _round(
    server: BenchServer,
    http: httpx.AsyncClient,
    password_p: str,
    sizes: Sizes,
    *,
    prelogin: bool,
) -> Round:
    remaining = iter(range(sizes.logins))

    async def login_client() -> None:
        for _ in remaining:
            await one_login(http, password_p, prelogin=prelogin)

    server.settle()
    cpu_before = server.cpu()
    started = time.perf_counter()
    await asyncio.gather(*(login_client() for _ in range(sizes.login_clients)))
    wall = time.perf_counter() - started
    cpu, database_cpu = server.cpu().since(cpu_before)
    return Round(cpu / sizes.logins, database_cpu / sizes.logins, sizes.logins / wall)


async def _run(server: BenchServer, sizes: Sizes) -> tuple[list[Round], list[Round]]:
    """(three-request rounds, two-request rounds)."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
        await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        params, salt = await client.prelogin(http, EMAIL)
        password_p = srp_password(
            derive_subkeys(derive_master_key(PASSWORD, salt, params)).auth_key
        )
        for _ in range(10):  # warm up connections, caches, gmpy2
            await one_login(http, password_p)
        three, two = [], []
        for _ in range(sizes.login_rounds):
            three.append(await _round(server, http, password_p, sizes, prelogin=True))
            two.append(await _round(server, http, password_p, sizes, prelogin=False))
    return three, two


def _median_ms(rounds: list[Round], figure: str) -> float:
    return float(statistics.median(getattr(one, figure) for one in rounds)) * 1000


def measure(server: BenchServer, sizes: Sizes) -> list[Row]:
    three, two = asyncio.run(_run(server, sizes))
    cpu_ms = _median_ms(three, "cpu")
    rounds = f"median of {len(three)} rounds of {sizes.logins}"
    lowest = f"lowest round {min(one.cpu for one in three) * 1000:.2f} ms"
    return [
        Row(
            "login.cpu_ms",
            SECTION,
            "server CPU per complete login: prelogin + srp/start + srp/verify"
            f" ({rounds}; {lowest})",
            cpu_ms,
            "ms",
            TARGET_CPU_MS,
        ),
        Row(
            "login.per_core",
            SECTION,
            "logins/s per server core (1000 / CPU ms)",
            1000 / cpu_ms if cpu_ms else float("inf"),
            "/s",
            TARGET_PER_CORE,
        ),
        Row(
            "login.two_requests_cpu_ms",
            SECTION,
            "  the same without prelogin, as the reference client logs in (srp/start + srp/verify)",
            _median_ms(two, "cpu"),
            "ms",
        ),
        Row(
            "login.db_cpu_ms",
            SECTION,
            "  PostgreSQL CPU per complete login (its backends; not part of the target)",
            _median_ms(three, "database_cpu"),
            "ms",
        ),
        Row(
            "login.rate",
            SECTION,
            f"complete logins/s, {len(server.workers)} workers, {sizes.login_clients} clients",
            statistics.median(one.rate for one in three),
            "/s",
        ),
    ]


if __name__ == "__main__":
    from bench.all import run_alone

    run_alone("login")
