"""Vault throughput and sync, against real workers on PostgreSQL.

Starts `vaultapi serve --workers N` on a fresh database and logs in through
the reference client. Then:
- item reads/s and writes/s with p50/p99 latency at C connections, driven by
  wrk (Debian package `wrk`) with bench/wrk_lines.lua replaying pre-made,
  properly encrypted requests: a Python client cannot generate this load
  (httpx tops out near 300 requests/s at 64 connections here, measured);
- a full sync of a 10,000-item vault and a delta sync after 3 changes
  (single requests, timed from this process over loopback).
wrk and the server share this machine's cores.

    .venv/bin/python bench/vault.py [--workers 2] [--concurrency 64] [--items 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from _support import print_table, server_on_fresh_postgres
from login import cpu_seconds, worker_pids

from vaultapi import client
from vaultapi.crypto import encstring
from vaultapi.crypto.kdf import MINIMUM_KDF

PASSWORD = "benchmark password"
PAYLOAD = b'{"name": "example.com", "username": "someone", "password": "' + b"x" * 300 + b'"}'
WRITE_BODIES = 40_000
"""More than the write run can send: every write needs a new id."""
WRK_SECONDS = 8
ACCOUNTS = 16
WRK_THREADS = 2
LUA = Path(__file__).with_name("wrk_lines.lua")


def item(account_key: bytes) -> dict[str, Any]:
    item_id = uuid.uuid4()
    item_key = secrets.token_bytes(32)
    return {
        "id": str(item_id),
        "type": "login",
        "key": encstring.encrypt(account_key, item_key, str(item_id)),
        "data": encstring.encrypt(item_key, PAYLOAD, str(item_id)),
    }


@dataclass(frozen=True)
class WrkRun:
    per_second: float
    latency: str
    clean: bool
    cpu_ms: float
    """Server CPU per request (all workers, from /proc): robust to other load
    on the machine, unlike the rate."""


def run_wrk(
    base_url: str,
    lines: list[str],
    connections: int,
    pids: list[int],
    seconds: int = WRK_SECONDS,
) -> WrkRun:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("bench/vault.py needs wrk: apt-get install wrk")
    with tempfile.TemporaryDirectory() as tmp:
        prefix = f"{tmp}/lines"
        for thread in range(WRK_THREADS):  # thread N replays every WRK_THREADS-th line
            Path(f"{prefix}.{thread}").write_text("\n".join(lines[thread::WRK_THREADS]) + "\n")
        command = [wrk, f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds}s"]
        cpu_before = sum(cpu_seconds(pid) for pid in pids)
        out = subprocess.run(
            [*command, "-s", str(LUA), base_url],
            env={**os.environ, "WRK_LINES": prefix},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        cpu = sum(cpu_seconds(pid) for pid in pids) - cpu_before
    result = json.loads(out.strip().splitlines()[-1])
    return WrkRun(
        per_second=result["requests"] / (result["duration_us"] / 1e6),
        latency=f"{result['p50_us'] / 1000:.1f} / {result['p99_us'] / 1000:.1f} ms",
        clean=result["socket_errors"] == 0 and result["non2xx"] == 0,
        cpu_ms=cpu / max(1, result["requests"]) * 1000,
    )


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


async def run(
    base_url: str, connections: int, vault_items: int, pids: list[int]
) -> list[tuple[str, str, str, str]]:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        # Many users, not one: one account's writes are serialized by design
        # (its vault revision row), which is what keeps sync cursors exact.
        logins = []
        for n in range(ACCOUNTS):
            email = f"bench{n}@example.com"
            await client.register(http, email, PASSWORD, kdf=MINIMUM_KDF)
            logins.append(await client.login(http, email, PASSWORD))
        writes = [
            (login, item(login.account_key))
            for _ in range(WRITE_BODIES // ACCOUNTS)
            for login in logins
        ]
        write_lines = [
            f"POST\t/v1/vault/items\t{login.access_token}\t{json.dumps(body)}"
            for login, body in writes
        ]
        write_run = run_wrk(base_url, write_lines, connections, pids)
        read_lines = []
        for login in logins:
            synced = await http.get("/v1/vault/sync", headers=login.auth_header)
            read_lines += [
                f"GET\t/v1/vault/items/{raw['id']}\t{login.access_token}\t"
                for raw in synced.json()["items"]
            ]
        run_wrk(base_url, read_lines, connections, pids, seconds=2)  # warm-up
        read_run = run_wrk(base_url, read_lines, connections, pids)

        login = logins[0]
        http.headers.update(login.auth_header)
        key = login.account_key
        stored = (await http.get("/v1/vault/sync")).json()["items"]

        for start in range(len(stored), vault_items, 1000):
            batch = [item(key) for _ in range(min(1000, vault_items - start))]
            (await http.post("/v1/vault/import", json={"items": batch})).raise_for_status()

        full_times, full_bytes, cursor, count = [], 0, 0, 0
        for _ in range(3):
            started = time.perf_counter()
            full = await http.get("/v1/vault/sync")
            full_times.append((time.perf_counter() - started) * 1000)
            body = full.json()
            full_bytes, cursor, count = len(full.content), body["revision"], len(body["items"])

        for changed in stored[:3]:
            fields = {k: v for k, v in item(key).items() if k != "id"}
            response = await http.put(
                f"/v1/vault/items/{changed['id']}",
                json=fields,
                headers={"If-Match": f'"{changed["revision"]}"'},
            )
            response.raise_for_status()
        delta_times, delta_bytes = [], 0
        for _ in range(20):
            started = time.perf_counter()
            delta = await http.get("/v1/vault/sync", params={"since": cursor})
            delta_times.append((time.perf_counter() - started) * 1000)
            delta_bytes = len(delta.content)
        if len(delta.json()["items"]) != 3:
            raise SystemExit(f"delta sync returned {len(delta.json()['items'])} items, not 3")

    full_ms, delta_ms = min(full_times), statistics.median(delta_times)
    return [
        (
            f"item reads/s ({connections} connections, {ACCOUNTS} accounts)",
            f"{read_run.per_second:.0f}",
            ">= 1500",
            verdict(read_run.per_second >= 1500 and read_run.clean),
        ),
        ("  read latency p50 / p99", read_run.latency, "-", "-"),
        (
            "  server CPU per read (1000 / this = reads/s per core)",
            f"{read_run.cpu_ms:.2f} ms",
            "-",
            "-",
        ),
        (
            f"item writes/s ({connections} connections, {ACCOUNTS} accounts)",
            f"{write_run.per_second:.0f}",
            "-",
            "-" if write_run.clean else "ERRORS",
        ),
        ("  write latency p50 / p99", write_run.latency, "-", "-"),
        ("  server CPU per write", f"{write_run.cpu_ms:.2f} ms", "-", "-"),
        (
            f"full sync of {count} items (best of 3)",
            f"{full_ms:.0f} ms, {full_bytes / 1e6:.1f} MB",
            "< 300 ms",
            verdict(full_ms < 300),
        ),
        (
            "delta sync, 3 changes (median of 20)",
            f"{delta_ms:.1f} ms, {delta_bytes / 1e3:.1f} kB",
            "< 10 ms",
            verdict(delta_ms < 10),
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--items", type=int, default=10_000)
    args = parser.parse_args()
    with server_on_fresh_postgres(args.workers, "vaultapi_bench_vault") as server:
        pids = worker_pids(server.process.pid)
        rows = asyncio.run(run(server.base_url, args.concurrency, args.items, pids))
    print_table(
        f"Vault benchmark: {args.workers} workers, PostgreSQL, "
        f"{os.cpu_count()} cores shared with wrk and this script",
        rows,
    )


if __name__ == "__main__":
    main()
