"""Resident memory of each idle worker: VmRSS from /proc right after
`vaultapi serve` answers /readyz, before any benchmark ran (the figure under
load comes from bench/throughput.py, which samples while wrk runs). No issue
sets a memory target: the figures are for capacity planning.

    .venv/bin/python -m bench.memory
"""

from __future__ import annotations

from bench._support import BenchServer, Row, Sizes, mib, status_kib

SECTION = "Worker memory (VmRSS)"


def measure(server: BenchServer, sizes: Sizes) -> list[Row]:
    pids = server.workers
    resident = [status_kib(pid, "VmRSS") for pid in pids]
    return [
        Row(
            "memory.idle",
            SECTION,
            f"resident per idle worker, after start (largest of {len(pids)})",
            mib(max(resident)),
            "MiB",
        )
    ]


if __name__ == "__main__":
    from bench.all import run_alone

    run_alone("memory")
