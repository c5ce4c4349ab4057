"""Authenticated item writes and reads: rate, p50/p99 latency and server CPU
per request at 16, 64 and 256 connections, plus worker memory under that load.

The load generator is wrk (Debian package `wrk`), a separate process, with
bench/wrk_lines.lua replaying pre-made, properly encrypted requests from many
accounts: a Python client cannot generate this load (httpx tops out near 300
requests/s at 64 connections here, measured). wrk and the workers share the
machine's cores, as they would on a small server with its proxy.

Writes come first (each level creates new items, every write a new id), then
reads replay GETs of the items written. Load is spread over several accounts:
one account's writes are serialized by design (its vault revision row keeps
sync cursors exact). Target (issue 4): at least 1,500 item reads/s at 64
clients with 2 workers on 2 cores; writes have none.

    .venv/bin/python -m bench.throughput [--quick]
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench._support import (
    BenchServer,
    Row,
    Sizes,
    Target,
    mib,
    require_wrk,
    status_kib,
)
from vaultapi import client
from vaultapi.client import Login
from vaultapi.crypto import encstring
from vaultapi.crypto.kdf import MINIMUM_KDF

PASSWORD = "benchmark password"
PAYLOAD = b'{"name": "example.com", "username": "someone", "password": "' + b"x" * 300 + b'"}'
"""A login item's plaintext of a realistic size (≈ 370 bytes)."""
WRK_THREADS = 2
WRK_TIMEOUT = "30s"
"""Far above any latency seen: a slow response is counted in p99, not dropped
as a socket timeout (wrk's default, 2 s, would hide the worst ones)."""
LUA = Path(__file__).with_name("wrk_lines.lua")
READ_TARGET = {64: Target(">=", 1500)}
SECTION = "Item reads and writes (wrk)"
MEMORY_SECTION = "Worker memory (VmRSS)"


def new_item(account_key: bytes) -> dict[str, Any]:
    """An item as the reference client makes it: its own key, wrapped by the
    account key, and the id bound into both ciphertexts."""
    item_id = str(uuid.uuid4())
    item_key = secrets.token_bytes(32)
    return {
        "id": item_id,
        "type": "login",
        "key": encstring.encrypt(account_key, item_key, item_id),
        "data": encstring.encrypt(item_key, PAYLOAD, item_id),
    }


@dataclass(frozen=True)
class WrkRun:
    per_second: float
    p50_ms: float
    p99_ms: float
    cpu_ms: float
    """Server CPU per request (all workers, from /proc): robust to other load
    on the machine, unlike the rate."""
    database_cpu_ms: float
    problem: str


class PeakRss:
    """Samples the workers' VmRSS every 100 ms in a thread while in use; the
    largest single worker's figure is the peak."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.peak_kib = 0
        self._stop = threading.Event()

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            self.peak_kib = max(self.peak_kib, *(status_kib(pid, "VmRSS") for pid in self.pids))

    @contextmanager
    def sampling(self) -> Iterator[None]:
        self._stop.clear()
        thread = threading.Thread(target=self._sample, daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            thread.join()


def run_wrk(server: BenchServer, lines: list[str], connections: int, seconds: int) -> WrkRun:
    wrk = require_wrk()
    with tempfile.TemporaryDirectory() as tmp:
        prefix = f"{tmp}/lines"
        for thread in range(WRK_THREADS):  # thread N replays every WRK_THREADS-th line
            Path(f"{prefix}.{thread}").write_text("\n".join(lines[thread::WRK_THREADS]) + "\n")
        command = [wrk, f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds}s"]
        command += ["--timeout", WRK_TIMEOUT, "-s", str(LUA), server.base_url]
        server.settle()
        cpu_before = server.cpu()
        out = subprocess.run(
            command,
            env={**os.environ, "WRK_LINES": prefix},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        cpu, database_cpu = server.cpu().since(cpu_before)
    result = json.loads(out.strip().splitlines()[-1])
    problems = []
    if result["non2xx"]:
        problems.append(f"{result['non2xx']} non-2xx")
    if result["socket_errors"]:
        problems.append(f"{result['socket_errors']} socket errors")
    return WrkRun(
        per_second=result["requests"] / (result["duration_us"] / 1e6),
        p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        cpu_ms=cpu / max(1, result["requests"]) * 1000,
        database_cpu_ms=database_cpu / max(1, result["requests"]) * 1000,
        problem=", ".join(problems),
    )


def request_line(method: str, path: str, login: Login, body: dict[str, Any] | None) -> str:
    """One line of bench/wrk_lines.lua's input: METHOD, PATH, TOKEN, BODY."""
    return f"{method}\t{path}\t{login.access_token}\t{json.dumps(body) if body else ''}"


async def _logins(base_url: str, accounts: int) -> list[Login]:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        logins = []
        for n in range(accounts):
            email = f"throughput{n}@example.com"
            await client.register(http, email, PASSWORD, kdf=MINIMUM_KDF)
            logins.append(await client.login(http, email, PASSWORD))
        return logins


async def _stored_ids(base_url: str, logins: list[Login]) -> list[tuple[Login, str]]:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        stored = []
        for login in logins:
            synced = await http.get("/v1/vault/sync", headers=login.auth_header)
            stored += [(login, raw["id"]) for raw in synced.json()["items"]]
        return stored


def _rows(kind: str, connections: int, run: WrkRun) -> list[Row]:
    key = f"{kind}s.{connections}"
    plural = f"item {kind}s"
    target = READ_TARGET.get(connections) if kind == "read" else None
    return [
        Row(
            f"{key}.rate",
            SECTION,
            f"{plural}/s, {connections} connections",
            run.per_second,
            "/s",
            target,
            run.problem,
        ),
        Row(f"{key}.p50", SECTION, f"  {kind} latency p50", run.p50_ms, "ms"),
        Row(f"{key}.p99", SECTION, f"  {kind} latency p99", run.p99_ms, "ms"),
        Row(f"{key}.cpu", SECTION, f"  server CPU per {kind}", run.cpu_ms, "ms"),
        Row(f"{key}.db_cpu", SECTION, f"  PostgreSQL CPU per {kind}", run.database_cpu_ms, "ms"),
    ]


def measure(server: BenchServer, sizes: Sizes) -> list[Row]:
    pids = server.workers
    logins = asyncio.run(_logins(server.base_url, sizes.accounts))
    peak = PeakRss(pids)
    write_rows: list[Row] = []
    read_rows: list[Row] = []
    with peak.sampling():
        for connections in sizes.connections:
            writes = [
                request_line("POST", "/v1/vault/items", login, new_item(login.account_key))
                for _ in range(sizes.writes_per_level // len(logins))
                for login in logins
            ]
            run = run_wrk(server, writes, connections, sizes.wrk_seconds)
            write_rows += _rows("write", connections, run)
        reads = [
            request_line("GET", f"/v1/vault/items/{item_id}", login, None)
            for login, item_id in asyncio.run(_stored_ids(server.base_url, logins))
        ]
        if sizes.wrk_warmup_seconds:
            run_wrk(server, reads, 64, sizes.wrk_warmup_seconds)
        for connections in sizes.connections:
            run = run_wrk(server, reads, connections, sizes.wrk_seconds)
            read_rows += _rows("read", connections, run)
    rows = read_rows + write_rows
    rows.append(
        Row(
            "memory.load",
            MEMORY_SECTION,
            f"resident per worker under load, peak (reads and writes, "
            f"up to {max(sizes.connections)} connections)",
            mib(peak.peak_kib),
            "MiB",
        )
    )
    rows.append(
        Row(
            "memory.after_load",
            MEMORY_SECTION,
            "resident per worker after the load (largest worker)",
            mib(max(status_kib(pid, "VmRSS") for pid in pids)),
            "MiB",
        )
    )
    return rows


if __name__ == "__main__":
    from bench.all import run_alone

    run_alone("throughput")
