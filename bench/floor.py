"""The floor under the login target: fixed costs no data-access rewrite can
remove, measured the same way as the other benchmarks (server CPU from /proc,
wrk as the load generator).

- a bare FastAPI hello-world route under uvicorn with vaultapi's settings
  (`bench/hello_app.py`), and vaultapi's own `/healthz` (no database): server
  CPU per request of the framework, uvicorn, and vaultapi's middleware;
- `POST /v1/auth/prelogin` for an unknown e-mail: a JSON body and one direct
  statement (`vaultapi.db.direct`), the smallest request that reaches the
  database;
- the SRP arithmetic of one login (`server_challenge` + `server_verify` with
  the comb over the verifier's stored powers, as the server does it,
  3072-bit group, gmpy2 when installed), timed in this process.

    .venv/bin/python -m bench.floor [--quick]
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
import time

import httpx

from bench._support import ROOT, BenchServer, Row, Sizes, require_wrk, total_cpu_seconds
from tests.support.servers import clean_environment, free_port
from vaultapi.crypto import srp

CONNECTIONS = 16
SECTION = "Floor: server CPU per request"
PRELOGIN_LUA = """
wrk.method = "POST"
wrk.body = '{"email": "nobody@example.com"}'
wrk.headers["Content-Type"] = "application/json"
"""


def wrk_requests(url: str, seconds: int, script: str = "") -> int:
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(script)
        lua.flush()
        command = [require_wrk(), "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "-s", lua.name, url]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if " requests in " in line:
            return int(line.split()[0])
    raise RuntimeError(f"unexpected wrk output:\n{out}")


def cpu_ms_per_request(pids: list[int], url: str, sizes: Sizes, script: str = "") -> float:
    if sizes.wrk_warmup_seconds:
        wrk_requests(url, 1, script)
    seconds = sizes.floor_seconds
    before = total_cpu_seconds(pids)
    requests = wrk_requests(url, seconds, script)
    return (total_cpu_seconds(pids) - before) / max(1, requests) * 1000


def hello_floor(sizes: Sizes) -> float:
    port = free_port()
    command = [
        *(sys.executable, "-m", "uvicorn", "bench.hello_app:app", "--port", str(port)),
        *("--no-server-header", "--no-access-log", "--log-level", "warning"),
    ]
    env = clean_environment({"PYTHONPATH": str(ROOT)})
    with subprocess.Popen(command, env=env, cwd=ROOT) as process:
        try:
            url = f"http://127.0.0.1:{port}/hello"
            for _ in range(300):
                try:
                    httpx.get(url).raise_for_status()
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            return cpu_ms_per_request([process.pid], url, sizes)
        finally:
            process.terminate()


def srp_ms(rounds: int) -> float:
    """As the server computes it: v^u from the verifier's stored powers,
    whose comb verify builds each time (`vaultapi.crypto.comb`)."""
    verifier = srp.client_start().public_A  # any group element will do as v here
    powers = srp.verifier_powers(verifier)
    start = srp.client_start()
    started = time.process_time()
    for _ in range(rounds):
        challenge = srp.server_challenge(verifier)
        comb = srp.verifier_comb(verifier, powers)
        # a wrong proof costs the same arithmetic as a right one
        with contextlib.suppress(srp.SRPProofError):
            srp.server_verify(
                "a@b.c", b"s" * 16, verifier, start.public_A, challenge, b"\0" * 32, comb=comb
            )
    return (time.process_time() - started) / rounds * 1000


def measure(server: BenchServer, sizes: Sizes) -> list[Row]:
    pids = server.workers
    hello = hello_floor(sizes)
    healthz = cpu_ms_per_request(pids, f"{server.base_url}/healthz", sizes)
    prelogin = cpu_ms_per_request(pids, f"{server.base_url}/v1/auth/prelogin", sizes, PRELOGIN_LUA)
    arithmetic = srp_ms(max(20, sizes.logins // 2))
    return [
        Row("floor.hello", SECTION, "bare FastAPI hello world (uvicorn)", hello, "ms"),
        Row("floor.healthz", SECTION, "GET /healthz (middleware, no database)", healthz, "ms"),
        Row(
            "floor.prelogin",
            SECTION,
            "POST /v1/auth/prelogin (JSON body, 1 statement)",
            prelogin,
            "ms",
        ),
        Row("floor.srp", SECTION, "SRP arithmetic of one login (in process)", arithmetic, "ms"),
        Row(
            "floor.login",
            SECTION,
            "floor of one login: 3 x /healthz + SRP arithmetic",
            3 * healthz + arithmetic,
            "ms",
        ),
    ]


if __name__ == "__main__":
    from bench.all import run_alone

    run_alone("floor")
