"""The floor under the performance targets: fixed costs no data-access rewrite
can remove, measured the same way as the other benchmarks (server CPU from
/proc, wrk as the load generator).

- a bare FastAPI hello-world route under uvicorn with vaultapi's settings
  (`bench/hello_app.py`), and vaultapi's own `/healthz` (no database): server
  CPU per request of the framework, uvicorn, and vaultapi's middleware;
- `POST /v1/auth/prelogin` for an unknown e-mail: a JSON body and one direct
  statement (`vaultapi.db.direct`), the smallest request that reaches the
  database;
- the SRP arithmetic of one login (`server_challenge` + `server_verify`,
  3072-bit group, gmpy2 when installed), timed in this process.

    .venv/bin/python bench/floor.py [--seconds 5] [--connections 16]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time

import httpx
from _support import ROOT, print_table, server_on_fresh_postgres
from login import cpu_seconds, worker_pids
from tests.support.servers import clean_environment, free_port

from vaultapi.crypto import srp

PRELOGIN_LUA = """
wrk.method = "POST"
wrk.body = '{"email": "nobody@example.com"}'
wrk.headers["Content-Type"] = "application/json"
"""


def wrk_requests(url: str, seconds: int, connections: int, script: str | None = None) -> int:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("bench/floor.py needs wrk: apt-get install wrk")
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(script or "")
        lua.flush()
        out = subprocess.run(
            [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "-s", lua.name, url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    for line in out.splitlines():
        if " requests in " in line:
            return int(line.split()[0])
    raise SystemExit(f"unexpected wrk output:\n{out}")


def cpu_ms_per_request(
    pid: int, url: str, seconds: int, connections: int, script: str | None = None
) -> float:
    wrk_requests(url, 1, connections, script)  # warm-up
    before = cpu_seconds(pid)
    requests = wrk_requests(url, seconds, connections, script)
    return (cpu_seconds(pid) - before) / requests * 1000


def hello_floor(seconds: int, connections: int) -> float:
    port = free_port()
    command = [
        *(sys.executable, "-m", "uvicorn", "hello_app:app", "--port", str(port)),
        *("--no-server-header", "--no-access-log", "--log-level", "warning"),
    ]
    env = clean_environment({"PYTHONPATH": str(ROOT / "bench")})
    with subprocess.Popen(command, env=env, cwd=ROOT / "bench") as process:
        try:
            url = f"http://127.0.0.1:{port}/hello"
            for _ in range(100):
                try:
                    httpx.get(url).raise_for_status()
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            return cpu_ms_per_request(process.pid, url, seconds, connections)
        finally:
            process.terminate()


def srp_ms(rounds: int = 200) -> float:
    verifier = srp.client_start().public_A  # any group element will do as v here
    start = srp.client_start()
    started = time.process_time()
    for _ in range(rounds):
        challenge = srp.server_challenge(verifier)
        # a wrong proof costs the same arithmetic as a right one
        with contextlib.suppress(srp.SRPProofError):
            srp.server_verify("a@b.c", b"s" * 16, verifier, start.public_A, challenge, b"\0" * 32)
    return (time.process_time() - started) / rounds * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    hello = hello_floor(args.seconds, args.connections)
    with server_on_fresh_postgres(1, "vaultapi_bench_floor") as server:
        pid = worker_pids(server.process.pid)[0]
        healthz = cpu_ms_per_request(
            pid, f"{server.base_url}/healthz", args.seconds, args.connections
        )
        prelogin = cpu_ms_per_request(
            pid,
            f"{server.base_url}/v1/auth/prelogin",
            args.seconds,
            args.connections,
            PRELOGIN_LUA,
        )
    arithmetic = srp_ms()
    print_table(
        f"Floor: server CPU per request, 1 worker, {os.cpu_count()} cores shared with wrk",
        [
            ("bare FastAPI hello world (uvicorn, same settings)", f"{hello:.3f} ms", "-", "-"),
            ("vaultapi GET /healthz (middleware, no database)", f"{healthz:.3f} ms", "-", "-"),
            (
                "vaultapi POST /v1/auth/prelogin (JSON body, 1 direct statement)",
                f"{prelogin:.3f} ms",
                "-",
                "-",
            ),
            ("SRP arithmetic of one login (start + verify)", f"{arithmetic:.3f} ms", "-", "-"),
            (
                "floor of one login: 2 x /healthz + SRP",
                f"{2 * healthz + arithmetic:.3f} ms",
                "<= 5 ms",
                "-",
            ),
        ],
    )


if __name__ == "__main__":
    main()
