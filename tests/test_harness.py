"""The test harness itself: a run without PostgreSQL must fail, never skip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_an_unreachable_postgresql_fails_the_run_with_an_explanation() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAULTAPI_")}
    env["VAULTAPI_TEST_DATABASE_URL"] = "postgresql://postgres@127.0.0.1:9/postgres"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_meta.py::test_healthz_answers_without_touching_the_database",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 3, output
    assert "PostgreSQL is required and cannot be reached at" in output
    assert "127.0.0.1:9" in output
    assert "pg_ctlcluster" in output
