"""`kill -9` of one worker of `vaultapi serve --workers 2` under write load.

The requests that worker was running die with it (the client sees a dropped
connection, never a 2xx); the other worker keeps serving; uvicorn's
supervisor starts a replacement; and every write that got a 2xx, from
either worker, is in the database afterwards.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

from tests.stress.conftest import fresh_connections, small_pool
from tests.stress.load import WriteLoad, check_sequences, missing_writes
from tests.support.cluster import production_environment
from tests.support.reports import REPORT_LINES
from tests.support.servers import RunningServer, running_server

STARTED = "started (production mode)"
TRANSPORT_ERRORS = {"RemoteProtocolError", "ReadError", "WriteError", "ConnectError"}


def worker_pids(supervisor: int) -> list[int]:
    """The supervisor's children that run the app (not multiprocessing's helpers)."""
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    workers = []
    for child in map(int, children):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"resource_tracker" not in command:
            workers.append(child)
    return workers


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/PID/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for_log(server: RunningServer, text: str, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while server.log().count(text) < count:
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.1)


async def test_a_killed_worker_loses_no_acknowledged_write(workdir: Path, database: str) -> None:
    env = {
        **production_environment(database),
        **small_pool(size=3),
        "VAULTAPI_HTTP__TRUSTED_PROXIES": '["10.0.0.0/8"]',  # no plain-HTTP warning
    }
    with running_server(workdir, env=env, args=["--workers", "2"]) as server:
        wait_for_log(server, STARTED, 2)
        workers = worker_pids(server.process.pid)
        assert len(workers) == 2, workers
        idle = {pid: cpu_seconds(pid) for pid in workers}
        # a new connection per request: each lands on whichever worker accepts it
        async with fresh_connections(server.base_url) as http:
            load = WriteLoad(http, writers=6)
            await load.start()
            await asyncio.sleep(2)
            # the victim is the busier worker: it was serving part of the load
            busy = {pid: cpu_seconds(pid) - idle[pid] for pid in workers}
            victim = max(workers, key=busy.__getitem__)
            assert busy[victim] > 0, busy
            os.kill(victim, signal.SIGKILL)
            killed = time.monotonic()
            await asyncio.sleep(3)
            await load.stop()
            stopped = time.monotonic()
            wait_for_log(server, STARTED, 3)  # the supervisor replaced the worker
            assert victim not in worker_pids(server.process.pid)
            lost = await missing_writes(database, load)
            stale = await check_sequences(load)
        log = server.log()

    before = load.outcomes(0, killed)
    after = load.outcomes(killed + 0.5, stopped)
    REPORT_LINES.append(
        f"stress/kill -9: {len(load.created)} creates and {load.updates} updates "
        f"acknowledged; calls before the kill {dict(before)}, after it {dict(after)}"
    )
    assert before["ok"] > 0, before
    assert after["ok"] > 0, after  # the surviving worker kept serving
    # a call may die with the worker, or meet a stale revision after that;
    # no call is ever answered with a server error
    assert set(load.outcomes()) <= {"ok", "stale_revision", *TRANSPORT_ERRORS}, load.outcomes()
    assert load.server_errors() == []
    assert lost == []
    assert stale == []
    assert "Traceback" not in log
