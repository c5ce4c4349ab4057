"""SRP login: server CPU per complete login, and logins/s with N workers.

Registers one account, then runs complete logins (srp/start, srp/verify) from
this process with C concurrent clients against the running workers. Server CPU
is read from /proc/<pid>/stat of the worker processes before and after, so the
figure is the server's own cost, whatever the load generator spends on its
side. Target (issue 3): at most 5 ms of server CPU per login with the 3072-bit
group, that is at least 200 logins/s per core.

The client's Argon2id runs once (its output does not change between logins);
each login still does the full client SRP work and both requests.

    .venv/bin/python -m bench.login [--quick]
"""

from __future__ import annotations

import asyncio
import time

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


async def one_login(http: httpx.AsyncClient, password_p: str) -> None:
    """What the reference client sends: srp/start (which answers the KDF
    parameters too) and srp/verify. Prelogin is optional since then."""
    start = srp.client_start()
    challenge = (
        await http.post(
            "/v1/auth/srp/start", json={"email": EMAIL, "A": srp.encode_int(start.public_A)}
        )
    ).json()
    proof = srp.client_proof(
        EMAIL,
        password_p,
        bytes.fromhex(challenge["srp_salt"]),
        start,
        srp.parse_group_element(challenge["B"], name="B"),
    )
    verified = await http.post(
        "/v1/auth/srp/verify",
        json={"handshake_id": challenge["handshake_id"], "M1": proof.M1.hex()},
    )
    verified.raise_for_status()
    srp.verify_server_proof(proof, bytes.fromhex(verified.json()["M2"]))


async def _run(server: BenchServer, logins: int, clients: int) -> tuple[float, float, float]:
    """(server CPU, database CPU, wall) seconds for `logins` logins."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
        await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        params, salt = await client.prelogin(http, EMAIL)
        password_p = srp_password(
            derive_subkeys(derive_master_key(PASSWORD, salt, params)).auth_key
        )
        for _ in range(5):  # warm up connections, caches, gmpy2
            await one_login(http, password_p)

        remaining = iter(range(logins))

        async def login_client() -> None:
            for _ in remaining:
                await one_login(http, password_p)

        cpu_before = server.cpu()
        started = time.perf_counter()
        await asyncio.gather(*(login_client() for _ in range(clients)))
        wall = time.perf_counter() - started
        cpu, database_cpu = server.cpu().since(cpu_before)
    return cpu, database_cpu, wall


def measure(server: BenchServer, sizes: Sizes) -> list[Row]:
    cpu, database_cpu, wall = asyncio.run(_run(server, sizes.logins, sizes.login_clients))
    cpu_ms = cpu / sizes.logins * 1000
    return [
        Row(
            "login.cpu_ms",
            SECTION,
            "server CPU per complete login (srp/start + srp/verify)",
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
            "login.db_cpu_ms",
            SECTION,
            "  PostgreSQL CPU per login (its backends; not part of the target)",
            database_cpu / sizes.logins * 1000,
            "ms",
        ),
        Row(
            "login.rate",
            SECTION,
            f"logins/s, {len(server.workers)} workers, {sizes.login_clients} clients",
            sizes.logins / wall,
            "/s",
        ),
    ]


if __name__ == "__main__":
    from bench.all import run_alone

    run_alone("login")
