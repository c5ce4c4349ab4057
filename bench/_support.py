"""Shared by the benchmarks: rows of the one table, the sizes of a run, a fresh
PostgreSQL database with real workers, and what /proc says about them."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support import databases
from tests.support.servers import RunningServer, running_server

ROOT = Path(__file__).resolve().parent.parent
UNLIMITED = "100000000"
TICKS = os.sysconf("SC_CLK_TCK")
WRK_HINT = "wrk is missing: install it with `apt-get install -y wrk` (Debian/Ubuntu package `wrk`)"


@dataclass(frozen=True)
class Target:
    """A target from the issues: `figure <op> value`."""

    op: str
    value: float

    def met_by(self, figure: float) -> bool:
        return {
            "<": figure < self.value,
            "<=": figure <= self.value,
            ">=": figure >= self.value,
        }[self.op]

    def __str__(self) -> str:
        value = f"{self.value:,.0f}" if self.value >= 10 else f"{self.value:g}"
        return f"{self.op} {value}"


@dataclass(frozen=True)
class Row:
    """One figure of the table. `key` is stable across runs and sizes (the
    smoke test and the JSON output use it); `name` is for people."""

    key: str
    section: str
    name: str
    figure: float
    unit: str
    target: Target | None = None
    problem: str = ""
    """Set when the measurement itself went wrong (error responses, a worker
    gone): the figure is then not to be trusted, whatever the target says."""

    @property
    def result(self) -> str:
        if self.problem:
            return f"FAIL ({self.problem})"
        if self.target is None:
            return "-"
        return "PASS" if self.target.met_by(self.figure) else "FAIL"


@dataclass(frozen=True)
class Sizes:
    """How much work each benchmark does: `FULL` for the figures, `QUICK` for a
    smoke run that only proves every benchmark still runs."""

    logins: int
    login_clients: int
    login_rounds: int
    accounts: int
    connections: tuple[int, ...]
    wrk_seconds: int
    wrk_warmup_seconds: int
    writes_per_level: int
    vaults: tuple[tuple[str, int], ...]
    full_sync_repeats: int
    delta_sync_repeats: int
    admin_events_per_day: int
    floor_seconds: int
    inprocess_rounds: int
    counted_logins: int


FULL = Sizes(
    logins=500,
    login_clients=8,
    login_rounds=5,
    accounts=64,
    connections=(16, 64, 256),
    wrk_seconds=8,
    wrk_warmup_seconds=2,
    writes_per_level=24_000,  # > 8 s at ~1,500 writes/s: ids repeat (409) once a thread runs out
    vaults=(("10k", 10_000), ("50k", 50_000)),
    full_sync_repeats=3,
    delta_sync_repeats=20,
    admin_events_per_day=3_000,
    floor_seconds=5,
    inprocess_rounds=300,
    counted_logins=100,
)
QUICK = Sizes(
    logins=10,
    login_clients=2,
    login_rounds=1,
    accounts=2,
    connections=(16, 64, 256),
    wrk_seconds=1,
    wrk_warmup_seconds=0,
    writes_per_level=2_000,
    vaults=(("10k", 100), ("50k", 300)),
    full_sync_repeats=1,
    delta_sync_repeats=2,
    admin_events_per_day=2,
    floor_seconds=1,
    inprocess_rounds=10,
    counted_logins=3,
)


async def _admin(action: Callable[[AsyncEngine, str], Awaitable[None]], name: str) -> None:
    admin = databases.admin_engine()
    try:
        await action(admin, name)
    finally:
        await admin.dispose()


@contextmanager
def fresh_postgres(prefix: str) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards."""
    name = databases.new_database_name(prefix)
    asyncio.run(_admin(databases.create_database, name))
    try:
        yield databases.with_database(databases.admin_url(), name)
    finally:
        asyncio.run(_admin(databases.drop_database, name))


@dataclass(frozen=True)
class BenchServer:
    """`vaultapi serve` under test: where it listens, its worker processes,
    and the name of its database (to find that database's backends)."""

    server: RunningServer
    workers: list[int]
    database: str

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def cpu(self) -> CpuSnapshot:
        return CpuSnapshot.take(self.workers, database_backend_pids(self.database))

    def settle(self, timeout: float = 20.0) -> None:
        """Wait until the workers are idle (under 10 % of a core for 0.5 s):
        requests a load generator left in flight must not be billed to the
        next measurement."""
        deadline = time.monotonic() + timeout
        before = total_cpu_seconds(self.workers)
        while time.monotonic() < deadline:
            time.sleep(0.5)
            now = total_cpu_seconds(self.workers)
            if now - before < 0.05:
                return
            before = now


@contextmanager
def server_on_fresh_postgres(workers: int, prefix: str) -> Iterator[BenchServer]:
    """`vaultapi serve --workers N` on a new database, dropped afterwards.
    Per-IP limits are lifted: every request comes from this one process."""
    env = {
        "VAULTAPI_DATABASE__AUTO_MIGRATE": "true",
        "VAULTAPI_ABUSE__IP_HANDSHAKES_PER_WINDOW": UNLIMITED,
        "VAULTAPI_ABUSE__IP_REGISTRATIONS_PER_WINDOW": UNLIMITED,
        "VAULTAPI_LOG__LEVEL": "WARNING",
    }
    with (
        fresh_postgres(prefix) as url,
        tempfile.TemporaryDirectory() as workdir,
        running_server(
            Path(workdir),
            env={**env, "VAULTAPI_DATABASE_URL": url},
            args=["--workers", str(workers)],
        ) as server,
    ):
        yield BenchServer(server, worker_pids(server.process.pid), make_url(url).database or "")


# --- /proc --------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def total_cpu_seconds(pids: list[int]) -> float:
    return sum(cpu_seconds(pid) for pid in pids)


def database_backend_pids(database: str) -> list[int]:
    """The PostgreSQL backends connected to `database`, found by their process
    title (`postgres: <cluster>: <user> <database> <client> <state>`). Empty
    when PostgreSQL runs on another machine: its CPU then reads as zero."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().decode(errors="replace")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if title.startswith("postgres:") and database in title.split():
            pids.append(int(entry.name))
    return pids


@dataclass(frozen=True)
class CpuSnapshot:
    """CPU seconds so far of the workers and of the database's backends."""

    workers: dict[int, float]
    database: dict[int, float]

    @classmethod
    def take(cls, workers: list[int], backends: list[int]) -> CpuSnapshot:
        def read(pids: list[int]) -> dict[int, float]:
            found = {}
            for pid in pids:
                with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                    found[pid] = cpu_seconds(pid)
            return found

        return cls(read(workers), read(backends))

    def since(self, before: CpuSnapshot) -> tuple[float, float]:
        """(workers, database) CPU seconds between the two snapshots; a backend
        started in between counts whole, one that ended in between is lost."""

        def delta(after: dict[int, float], earlier: dict[int, float]) -> float:
            return sum(cpu - earlier.get(pid, 0.0) for pid, cpu in after.items())

        return delta(self.workers, before.workers), delta(self.database, before.database)


def worker_pids(parent: int) -> list[int]:
    """The processes serving requests: the multiprocessing children of
    `vaultapi serve --workers N` (not its resource tracker), or the serve
    process itself when it runs a single worker in-process."""
    workers = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if ppid == parent and b"spawn_main" in command:
            workers.append(int(entry.name))
    return sorted(workers) or [parent]


def status_kib(pid: int, field: str) -> int:
    """A `kB` line of /proc/<pid>/status, e.g. VmRSS (resident now) or VmHWM
    (the resident peak since start or since `reset_peak_rss`)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise LookupError(f"{field} not in /proc/{pid}/status")


def reset_peak_rss(pids: list[int]) -> None:
    """Set VmHWM back to the current VmRSS (Linux ≥ 4.0, clear_refs value 5),
    so a later VmHWM is the peak of what ran in between."""
    for pid in pids:
        Path(f"/proc/{pid}/clear_refs").write_text("5")


def mib(kib: float) -> float:
    return kib / 1024


def require_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit(WRK_HINT)
    return wrk
