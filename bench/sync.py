"""Full and delta sync of a 10,000-item and a 50,000-item vault: time, bytes,
and the workers' peak resident memory while they serve the full sync.

Each vault belongs to its own account and is seeded through the bulk import
endpoint (1,000 items a request, each item encrypted by the reference
client's primitives with a ≈ 370-byte payload). Then, over HTTP from this
process on loopback:
- full sync (`GET /v1/vault/sync`), best of N: the machine is shared, and
  other load only ever adds time;
- delta sync after 3 item updates (`?since=<cursor>`), median of N;
- the workers' VmHWM, reset (/proc/<pid>/clear_refs) after seeding, so it is
  the peak of the full syncs alone; the largest worker's figure.

Targets (issue 4): a full sync of 10,000 items under 300 ms, a delta sync with
3 changes under 10 ms. The 50,000-item vault (the default per-account limit)
has no full-sync target; its delta sync has the same.

    .venv/bin/python -m bench.sync [--quick]
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass

import httpx

from bench._support import BenchServer, Row, Sizes, Target, mib, reset_peak_rss, status_kib
from bench.throughput import new_item
from vaultapi import client
from vaultapi.client import Login
from vaultapi.crypto.kdf import MINIMUM_KDF

PASSWORD = "benchmark password"
IMPORT_BATCH = 1_000
CHANGES = 3
SECTION = "Vault sync"
FULL_TARGET = {"10k": Target("<", 300)}
DELTA_TARGET = Target("<", 10)


@dataclass(frozen=True)
class SyncFigures:
    items: int
    full_ms: float
    full_cpu_ms: float
    """The workers' CPU per full sync: comparable across runs on a busy
    machine, unlike the time."""
    full_bytes: int
    delta_ms: float
    delta_bytes: int
    peak_rss_kib: int


async def _seed(http: httpx.AsyncClient, label: str, items: int) -> Login:
    email = f"sync-{label}@example.com"
    await client.register(http, email, PASSWORD, kdf=MINIMUM_KDF)
    login = await client.login(http, email, PASSWORD)
    for start in range(0, items, IMPORT_BATCH):
        batch = [new_item(login.account_key) for _ in range(min(IMPORT_BATCH, items - start))]
        response = await http.post(
            "/v1/vault/import", json={"items": batch}, headers=login.auth_header
        )
        response.raise_for_status()
    return login


async def _measure_one(
    http: httpx.AsyncClient, login: Login, sizes: Sizes, server: BenchServer
) -> SyncFigures:
    headers = login.auth_header
    pids = server.workers
    reset_peak_rss(pids)
    cpu_before = server.cpu()
    full_times, full_bytes, cursor, stored = [], 0, 0, []
    for _ in range(sizes.full_sync_repeats):
        started = time.perf_counter()
        full = await http.get("/v1/vault/sync", headers=headers)
        full_times.append((time.perf_counter() - started) * 1000)
        full.raise_for_status()
        body = full.json()
        full_bytes, cursor, stored = len(full.content), body["revision"], body["items"]
    peak_kib = max(status_kib(pid, "VmHWM") for pid in pids)
    full_cpu, _ = server.cpu().since(cpu_before)

    for changed in stored[:CHANGES]:
        fields = {k: v for k, v in new_item(login.account_key).items() if k != "id"}
        response = await http.put(
            f"/v1/vault/items/{changed['id']}",
            json=fields,
            headers={**headers, "If-Match": f'"{changed["revision"]}"'},
        )
        response.raise_for_status()
    delta_times, delta_bytes, delta_items = [], 0, 0
    for _ in range(sizes.delta_sync_repeats):
        started = time.perf_counter()
        delta = await http.get("/v1/vault/sync", params={"since": cursor}, headers=headers)
        delta_times.append((time.perf_counter() - started) * 1000)
        delta.raise_for_status()
        delta_bytes, delta_items = len(delta.content), len(delta.json()["items"])
    if delta_items != CHANGES:
        raise RuntimeError(f"delta sync returned {delta_items} items, not {CHANGES}")
    return SyncFigures(
        items=len(stored),
        full_ms=min(full_times),
        full_cpu_ms=full_cpu / sizes.full_sync_repeats * 1000,
        full_bytes=full_bytes,
        delta_ms=statistics.median(delta_times),
        delta_bytes=delta_bytes,
        peak_rss_kib=peak_kib,
    )


async def _run(server: BenchServer, sizes: Sizes) -> dict[str, SyncFigures]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=120) as http:
        logins = {label: await _seed(http, label, items) for label, items in sizes.vaults}
        return {
            label: await _measure_one(http, login, sizes, server) for label, login in logins.items()
        }


def measure(server: BenchServer, sizes: Sizes) -> list[Row]:
    rows = []
    for label, figures in asyncio.run(_run(server, sizes)).items():
        vault = f"{figures.items:,} items"
        key = f"sync.{label}"
        rows += [
            Row(
                f"{key}.full_ms",
                SECTION,
                f"full sync, {vault} (best of {sizes.full_sync_repeats})",
                figures.full_ms,
                "ms",
                FULL_TARGET.get(label),
            ),
            Row(
                f"{key}.full_cpu", SECTION, "  server CPU per full sync", figures.full_cpu_ms, "ms"
            ),
            Row(f"{key}.full_mb", SECTION, "  full sync size", figures.full_bytes / 1e6, "MB"),
            Row(
                f"{key}.peak_rss",
                SECTION,
                "  peak resident per worker during full sync",
                mib(figures.peak_rss_kib),
                "MiB",
            ),
            Row(
                f"{key}.delta_ms",
                SECTION,
                f"delta sync, {vault}, {CHANGES} changed (median of {sizes.delta_sync_repeats})",
                figures.delta_ms,
                "ms",
                DELTA_TARGET,
            ),
            Row(f"{key}.delta_kb", SECTION, "  delta sync size", figures.delta_bytes / 1e3, "kB"),
        ]
    return rows


if __name__ == "__main__":
    from bench.all import run_alone

    run_alone("sync")
