"""Server CPU per complete SRP login, and logins per second.

Starts `vaultapi serve --workers N` on a fresh PostgreSQL database, registers
one account, then runs complete logins (srp/start, srp/verify) from this
process with C concurrent clients. Server CPU is read from /proc/<pid>/stat
of the worker processes before and after, so the figure is the server's own
cost, whatever the load generator spends on its side.

The client's Argon2id runs once (its output does not change between logins);
each login still does the full client SRP work and both requests.

    .venv/bin/python bench/login.py [--workers 2] [--logins 400] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import time
from pathlib import Path

import httpx
from _support import print_table, server_on_fresh_postgres

from vaultapi import client
from vaultapi.crypto import srp
from vaultapi.crypto.kdf import derive_master_key, derive_subkeys, srp_password

EMAIL = "bench@example.com"
PASSWORD = "benchmark password"
TARGET_CPU_MS = 5.0
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def worker_pids(parent: int) -> list[int]:
    out = subprocess.run(
        ["/usr/bin/pgrep", "-P", str(parent)], capture_output=True, text=True, check=False
    )
    children = [int(pid) for pid in out.stdout.split()]
    return children or [parent]


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


async def run(base_url: str, logins: int, concurrency: int, pids: list[int]) -> tuple[float, float]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        await client.register(http, EMAIL, PASSWORD)
        params, salt = await client.prelogin(http, EMAIL)
        password_p = srp_password(
            derive_subkeys(derive_master_key(PASSWORD, salt, params)).auth_key
        )
        for _ in range(10):  # warm up connections, caches, gmpy2
            await one_login(http, password_p)

        queue: asyncio.Queue[int] = asyncio.Queue()
        for n in range(logins):
            queue.put_nowait(n)

        async def worker() -> None:
            while not queue.empty():
                queue.get_nowait()
                await one_login(http, password_p)

        cpu_before = sum(cpu_seconds(pid) for pid in pids)
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - started
        cpu = sum(cpu_seconds(pid) for pid in pids) - cpu_before
    return cpu, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--logins", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    with server_on_fresh_postgres(args.workers, "vaultapi_bench_login") as server:
        pids = worker_pids(server.process.pid)
        cpu, wall = asyncio.run(run(server.base_url, args.logins, args.concurrency, pids))

    cpu_ms = cpu / args.logins * 1000
    print_table(
        f"SRP login benchmark: {args.logins} logins, 3072-bit group, PostgreSQL, "
        f"{os.cpu_count()} cores shared with the load generator",
        [
            (
                "server CPU per complete login (2 requests)",
                f"{cpu_ms:.2f} ms",
                f"<= {TARGET_CPU_MS} ms",
                "PASS" if cpu_ms <= TARGET_CPU_MS else "FAIL",
            ),
            (
                "logins/s per server core (1000 / CPU ms)",
                f"{1000 / cpu_ms:.0f}",
                ">= 200",
                "PASS" if 1000 / cpu_ms >= 200 else "FAIL",
            ),
            (
                f"logins/s measured ({args.workers} workers, {args.concurrency} clients)",
                f"{args.logins / wall:.0f}",
                "-",
                "-",
            ),
        ],
    )


if __name__ == "__main__":
    main()
