"""Instructions per complete login, counted by callgrind: a login figure that
other load on the machine does not move.

Issue 3's target is CPU time, and on a shared machine the CPU time of the same
commit moves by a third from one hour to the next (docs/performance.md). An
instruction count of the same binaries and inputs moves by well under 1 %
between runs, so it tells whether a change made a login cheaper. It is not
the target itself: it leaves out the kernel's part (system calls, loopback
TCP: what each database round trip costs beyond user space), cache misses and
stalls; and it is comparable only on one machine (GMP picks its code by CPU).
Timer-driven work (the IP-rules cache, the purge) is pushed out of the window.

One worker (`vaultapi serve --workers 1`, which serves in its own process, on
a fresh PostgreSQL database) runs under `valgrind --tool=callgrind` with
counting off. After registration and a warm-up, counting is switched on
(`callgrind_control -i on`) for N logins of three requests each (prelogin,
srp/start, srp/verify, with the client's SRP work done in this process, not
counted), then off again.

    .venv/bin/python -m bench.instructions [--quick]
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

import httpx

from bench import login as login_bench
from bench._support import UNLIMITED, Row, Sizes, fresh_postgres
from tests.support.servers import running_server
from vaultapi import client
from vaultapi.crypto.kdf import MINIMUM_KDF, derive_master_key, derive_subkeys, srp_password

SECTION = "Instructions per login (callgrind: user space only, not moved by other load)"
VALGRIND_HINT = "valgrind is missing: install it with `apt-get install -y valgrind`"
EMAIL = "instructions@example.com"
PASSWORD = "benchmark password"
WARM_UP = 10
_COST = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+\S.*\[(?P<object>[^\]]+)\]\s*$")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(VALGRIND_HINT)
    return path


def _callgrind(pid: int, *args: str) -> None:
    """`callgrind_control` exits 0 even when it reaches no process: its output says so."""
    done = subprocess.run(
        [_tool("callgrind_control"), *args, str(pid)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    said = done.stdout + done.stderr
    if "Error" in said or "No active" in said or "not detected" in said:
        raise RuntimeError(f"callgrind_control {' '.join(args)} {pid}: {said.strip()}")


async def _count(base_url: str, pid: int, logins: int) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=300) as http:
        await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        params, salt = await client.prelogin(http, EMAIL)
        password_p = srp_password(
            derive_subkeys(derive_master_key(PASSWORD, salt, params)).auth_key
        )
        for _ in range(WARM_UP):
            await login_bench.one_login(http, password_p, email=EMAIL)
        _callgrind(pid, "-i", "on")
        for _ in range(logins):
            await login_bench.one_login(http, password_p, email=EMAIL)
        _callgrind(pid, "-i", "off")
        _callgrind(pid, "-d")  # written now, whatever the shutdown does


def total_instructions(dumps: list[Path]) -> int:
    """The sum of the dumps' totals (`totals:`: what each dump part counted)."""
    total = 0
    for dump in dumps:
        for line in dump.read_text(errors="replace").splitlines():
            if line.startswith("totals:"):
                total += int(line.split()[1])
    return total


def instructions_by_object(dumps: list[Path]) -> Counter[str]:
    """Instructions per shared object (`libgmp…`, `libpython…`), from
    `callgrind_annotate` over the dump files. Only the parts of interest are
    read from it; the total comes from the dumps (`total_instructions`)."""
    found: Counter[str] = Counter()
    for dump in dumps:
        annotated = subprocess.run(
            [_tool("callgrind_annotate"), "--threshold=100", "--auto=no", str(dump)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        for line in annotated.splitlines():
            match = _COST.match(line)
            if match:
                found[Path(match["object"]).name] += int(match[1].replace(",", ""))
    return found


def measure(sizes: Sizes) -> list[Row]:
    valgrind = _tool("valgrind")
    logins = sizes.counted_logins
    with (
        tempfile.TemporaryDirectory() as workdir,
        fresh_postgres("vaultapi_bench_instructions") as url,
    ):
        dumps = Path(workdir) / "callgrind.out"
        env = {
            "VAULTAPI_DATABASE_URL": url,
            "VAULTAPI_DATABASE__AUTO_MIGRATE": "true",
            "VAULTAPI_ABUSE__IP_HANDSHAKES_PER_WINDOW": UNLIMITED,
            "VAULTAPI_ABUSE__IP_REGISTRATIONS_PER_WINDOW": UNLIMITED,
            "VAULTAPI_LOG__LEVEL": "WARNING",
            # No timer-driven work inside the counted window (its amount would
            # depend on how fast the machine runs valgrind).
            "VAULTAPI_ADMIN__IP_RULES_CACHE_SECONDS": "300",
            "VAULTAPI_DATABASE__PURGE_INTERVAL_SECONDS": "86400",
        }
        wrapper = [
            valgrind,
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={dumps}.%p",
        ]
        with running_server(
            Path(workdir), env=env, args=["--workers", "1"], wrapper=wrapper, timeout=300
        ) as server:
            asyncio.run(_count(server.base_url, server.process.pid, logins))
        files = sorted(Path(workdir).glob("callgrind.out.*"))
        total = total_instructions(files)
        if total <= 0:
            raise RuntimeError(f"callgrind counted nothing (dumps: {[f.name for f in files]})")
        by_object = instructions_by_object(files)
    gmp = sum(count for name, count in by_object.items() if name.startswith("libgmp"))
    # libpython3.11.so, or the python executable itself when it is linked statically
    python = sum(
        count for name, count in by_object.items() if name.startswith(("libpython", "python"))
    )
    return [
        Row(
            "instructions.login",
            SECTION,
            f"user-space instructions per complete login, server (mean of {logins})",
            total / logins / 1e6,
            "M",
        ),
        Row(
            "instructions.gmp",
            SECTION,
            "  of which GMP (the SRP arithmetic)",
            gmp / logins / 1e6,
            "M",
        ),
        Row(
            "instructions.python",
            SECTION,
            "  of which the Python interpreter",
            python / logins / 1e6,
            "M",
        ),
    ]


if __name__ == "__main__":
    from bench.all import run_alone

    run_alone("instructions")
