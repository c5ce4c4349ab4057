"""`bench/all.py --quick`: every benchmark still runs and lands in the one
table, so the benchmarks cannot rot between the runs that fill the README.

Only that they run is checked, never a figure against its target: timings on a
shared CI machine say nothing. About a minute on a loaded 2-core machine (real
`vaultapi serve --workers 2`, wrk, one worker under valgrind, four throwaway
PostgreSQL databases).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench._support import ROOT, WRK_HINT
from bench.instructions import VALGRIND_HINT

pytestmark = pytest.mark.slow

EXPECTED_KEYS = [
    "memory.idle",
    *("login.cpu_ms", "login.per_core", "login.two_requests_cpu_ms"),
    *("login.db_cpu_ms", "login.rate"),
    *("floor.hello", "floor.healthz", "floor.prelogin", "floor.srp", "floor.login"),
    *(
        f"{kind}.{connections}.{figure}"
        for kind in ("reads", "writes")
        for connections in (16, 64, 256)
        for figure in ("rate", "p50", "p99", "cpu", "db_cpu")
    ),
    *("memory.load", "memory.after_load"),
    *(
        f"sync.{vault}.{figure}"
        for vault in ("10k", "50k")
        for figure in ("full_ms", "full_cpu", "full_mb", "peak_rss", "delta_ms", "delta_kb")
    ),
    *(
        "inprocess.healthz",
        "inprocess.item_read",
        "inprocess.item_update",
        "inprocess.item_create",
        "inprocess.login",
    ),
    *("instructions.login", "instructions.gmp", "instructions.python"),
    *("admin.daily", "admin.frequency", "admin.top_ips"),
]
TARGETED = {
    "login.cpu_ms",
    "login.per_core",
    "reads.64.rate",
    "sync.10k.full_ms",
    "sync.10k.delta_ms",
    "sync.50k.delta_ms",
    "admin.daily",
    "admin.frequency",
    "admin.top_ips",
}


def test_quick_run_prints_every_row_of_the_table(tmp_path: Path) -> None:
    assert shutil.which("wrk"), WRK_HINT
    assert shutil.which("callgrind_control"), VALGRIND_HINT
    out = tmp_path / "bench.json"
    finished = subprocess.run(
        [sys.executable, "bench/all.py", "--quick", "--json", str(out)],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = f"stdout:\n{finished.stdout}\nstderr:\n{finished.stderr[-5000:]}"
    assert finished.returncode == 0, report

    rows = json.loads(out.read_text())["rows"]
    assert [row["key"] for row in rows] == EXPECTED_KEYS, report
    for row in rows:
        assert row["figure"] is not None, row
        assert math.isfinite(row["figure"]), row
        assert row["figure"] >= 0, row
        # A problem (error responses, socket errors) is a broken run, not a slow one.
        assert row["result"] in {"PASS", "FAIL", "-"}, row
        assert (row["target"] is not None) == (row["key"] in TARGETED), row
        assert row["name"] in finished.stdout, row
    assert "vaultapi benchmarks (quick)" in finished.stdout
