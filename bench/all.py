"""Run every benchmark and print one table: each figure against its target
from the issues, PASS/FAIL.

    make bench                              # the full run (≈ 10 min)
    .venv/bin/python -m bench --quick       # tiny sizes: proves every benchmark runs
    .venv/bin/python bench/all.py --only login,sync --json out.json --markdown out.md

The server benchmarks share one `vaultapi serve --workers 2` on a fresh
PostgreSQL database (created and dropped here), in this order: idle memory
first, then login, the floor, item reads/writes under wrk, sync. Then the
in-process, instruction-count (callgrind; needs valgrind) and
admin-statistics benchmarks, each on its own fresh database.
The exit status is 1 when a benchmark could not run, never because a figure
missed its target: timings belong in the table, not in an exit code.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/all.py`: import the package, not siblings
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import asyncio
import json
import math
import os
import platform
import subprocess
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from bench import admin_stats, floor, inprocess, instructions, login, memory, sync, throughput
from bench._support import (
    FULL,
    QUICK,
    ROOT,
    BenchServer,
    Row,
    Sizes,
    require_wrk,
    server_on_fresh_postgres,
)
from tests.support import databases

ServerBenchmark = Callable[[BenchServer, Sizes], list[Row]]
AloneBenchmark = Callable[[Sizes], list[Row]]

SERVER_BENCHMARKS: dict[str, ServerBenchmark] = {
    "memory": memory.measure,  # first: the workers are still idle
    "login": login.measure,
    "floor": floor.measure,
    "throughput": throughput.measure,
    "sync": sync.measure,
}
ALONE_BENCHMARKS: dict[str, AloneBenchmark] = {
    "inprocess": inprocess.measure,
    "instructions": instructions.measure,
    "admin_stats": admin_stats.measure,
}
NAMES = [*SERVER_BENCHMARKS, *ALONE_BENCHMARKS]


def format_figure(value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def failed_row(name: str, error: BaseException) -> Row:
    message = f"{type(error).__name__}: {error}".splitlines()[0][:120]
    return Row(f"{name}.error", name, f"{name} could not run", math.nan, "", problem=message)


def run_benchmarks(names: Sequence[str], sizes: Sizes, workers: int) -> tuple[list[Row], bool]:
    """All rows, and whether every benchmark ran. A benchmark that raises gets
    one FAIL row with the error; the others still run."""
    rows: list[Row] = []
    ok = True

    def attempt(name: str, action: Callable[[], list[Row]]) -> None:
        nonlocal ok
        started = time.monotonic()
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        try:
            rows.extend(action())
        except Exception as error:
            ok = False
            traceback.print_exc()
            rows.append(failed_row(name, error))
        print(f"[bench] {name}: {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)

    on_server = [name for name in SERVER_BENCHMARKS if name in names]
    if on_server:
        with server_on_fresh_postgres(workers, "vaultapi_bench") as server:
            for name in on_server:
                attempt(name, partial(SERVER_BENCHMARKS[name], server, sizes))
    for name in ALONE_BENCHMARKS:
        if name in names:
            attempt(name, partial(ALONE_BENCHMARKS[name], sizes))
    return rows, ok


async def _postgres_version() -> str:
    admin = databases.admin_engine()
    try:
        async with admin.connect() as connection:
            version = await connection.scalar(text("SHOW server_version"))
        return str(version)
    finally:
        await admin.dispose()


def machine() -> dict[str, Any]:
    """Where the figures come from: they mean little without it."""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from PATH, fixed arguments
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "load_average_at_start": [round(load, 2) for load in os.getloadavg()],
        "python": platform.python_version(),
        "postgresql": asyncio.run(_postgres_version()),
        "commit": commit or "unknown",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def render(rows: list[Row], title: str, console: Console) -> None:
    table = Table(title=title, title_justify="left")
    table.add_column("Figure")
    table.add_column("Measured", justify="right")
    table.add_column("Unit")
    table.add_column("Target", justify="right")
    table.add_column("Result")
    section = None
    for row in rows:
        if row.section != section:
            if section is not None:
                table.add_section()
            section = row.section
            table.add_row(f"[bold]{section}[/bold]", "", "", "", "")
        style = {"P": "green", "F": "red"}.get(row.result[0], "")
        table.add_row(
            row.name,
            format_figure(row.figure),
            row.unit,
            f"{row.target} {row.unit}" if row.target else "",
            f"[{style}]{row.result}[/{style}]" if style else row.result,
        )
    console.print(table)


def markdown(rows: list[Row]) -> str:
    lines = ["| Figure | Measured | Target | Result |", "| --- | ---: | ---: | --- |"]
    section = None
    for row in rows:
        if row.section != section:
            section = row.section
            lines.append(f"| **{section}** | | | |")
        figure = f"{format_figure(row.figure)} {row.unit}".strip()
        target = f"{row.target} {row.unit}" if row.target else ""
        name = f"&emsp;{row.name.strip()}" if row.name.startswith(" ") else row.name
        lines.append(f"| {name} | {figure} | {target} | {row.result} |")
    return "\n".join(lines) + "\n"


def as_json(rows: list[Row], about: dict[str, Any]) -> dict[str, Any]:
    return {
        **about,
        "rows": [
            {
                "key": row.key,
                "section": row.section,
                "name": row.name.strip(),
                "figure": row.figure if math.isfinite(row.figure) else None,
                "unit": row.unit,
                "target": str(row.target) if row.target else None,
                "result": row.result,
            }
            for row in rows
        ],
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument(
        "--only", default=",".join(NAMES), help=f"comma-separated subset of: {', '.join(NAMES)}"
    )
    parser.add_argument("--workers", type=int, default=2, help="vaultapi serve --workers")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--markdown", type=Path, help="also write the table as Markdown")
    args = parser.parse_args(argv)
    unknown = set(args.only.split(",")) - set(NAMES)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if {"floor", "throughput"} & set(args.only.split(",")):
        require_wrk()  # before anything starts: say how to install it, and stop
    about = machine()
    about.update(profile="quick" if args.quick else "full", workers=args.workers)
    rows, ok = run_benchmarks(args.only.split(","), sizes, args.workers)
    about["load_average_at_end"] = [round(load, 2) for load in os.getloadavg()]
    loads = " at start, ".join(
        ", ".join(f"{load:.1f}" for load in about[f"load_average_at_{when}"])
        for when in ("start", "end")
    )
    title = (
        f"vaultapi benchmarks ({about['profile']}) at {about['commit']}, {about['date']}: "
        f"{args.workers} workers, PostgreSQL {about['postgresql']}, {about['cores']} cores "
        f"({about['cpu']}) shared with the load generators; load average {loads} at end"
    )
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)  # a pipe or a file: never cut a figure's name
    render(rows, title, console)
    if args.json:
        args.json.write_text(json.dumps(as_json(rows, about), indent=2) + "\n")
    if args.markdown:
        args.markdown.write_text(markdown(rows))
    return 0 if ok else 1


def run_alone(name: str) -> None:
    """`python -m bench.<name>`: that benchmark alone, same options and table."""
    sys.exit(main(["--only", name, *sys.argv[1:]]))


if __name__ == "__main__":
    sys.exit(main())
