"""Graceful shutdown: SIGTERM under load loses no request.

What a client sees, in order: requests running when SIGTERM arrives finish
normally; for `server.shutdown_drain_seconds` every new request gets
`503 shutting_down` (with `Retry-After` and `Connection: close`); then the
listener closes and new connections are refused (the request is never sent,
so a load balancer or client can safely retry it elsewhere). No request is
accepted and then dropped without an answer — for clients that honour
`Retry-After` (which points past the drain), as the load generator here does;
see `vaultapi.shutdown` for the race left to clients that do not.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import ClientFactory
from tests.support.cluster import fresh_database, production_environment
from tests.support.servers import running_server
from vaultapi import client
from vaultapi.crypto import srp
from vaultapi.crypto.kdf import MINIMUM_KDF
from vaultapi.shutdown import Drain

EMAIL = "alice@example.com"
PASSWORD = "correct horse battery staple"
DRAIN_SECONDS = 2.0


async def test_a_draining_app_answers_503_and_closes_the_connection(
    make_client: ClientFactory,
) -> None:
    apps: list[FastAPI] = []
    async with make_client(app_hook=apps.append) as http:
        assert (await http.get("/readyz")).status_code == 200
        drain: Drain = apps[0].state.drain
        drain.draining = True  # what the SIGTERM hook does first
        for path in ("/readyz", "/v1/server", "/v1/account"):
            response = await http.get(path)
            assert response.status_code == 503
            assert response.json()["code"] == "shutting_down"
            assert response.headers["retry-after"] == "1"  # no drain deadline in-process
            assert response.headers["connection"] == "close"
            assert response.headers["x-request-id"]


@dataclass
class Outcome:
    kind: str  # "response", "refused" (connection refused: never sent) or "failed"
    sent: float
    done: float
    status: int = 0
    code: str = ""
    detail: str = ""


async def _load(base_url: str, token: str, stop_at: float, kind: str) -> list[Outcome]:
    """Requests back to back until the server refuses the connection."""
    loop = asyncio.get_running_loop()
    outcomes: list[Outcome] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        while loop.time() < stop_at:
            sent = loop.time()
            try:
                if kind == "handshake":  # modular exponentiation: CPU in the server
                    a = srp.encode_int(srp.client_start().public_A)
                    response = await http.post("/v1/auth/srp/start", json={"email": EMAIL, "A": a})
                else:  # a database round trip with the session check
                    response = await http.get(
                        "/v1/vault/sync", headers={"Authorization": f"Bearer {token}"}
                    )
            except httpx.ConnectError as exc:
                outcomes.append(Outcome("refused", sent, loop.time(), detail=str(exc)))
                break
            except httpx.HTTPError as exc:
                outcomes.append(Outcome("failed", sent, loop.time(), detail=repr(exc)))
                continue
            code = ""
            if response.status_code != 200:
                code = response.json().get("code", "")
            outcomes.append(Outcome("response", sent, loop.time(), response.status_code, code))
            if response.status_code == 503:
                await asyncio.sleep(int(response.headers["retry-after"]))
    return outcomes


@pytest.mark.slow
async def test_sigterm_under_load_finishes_running_requests_and_answers_the_rest(
    workdir: Path,
) -> None:
    loop = asyncio.get_running_loop()
    async with fresh_database(workdir) as database_url:
        env = {
            **production_environment(database_url),
            "VAULTAPI_SERVER__SHUTDOWN_DRAIN_SECONDS": str(DRAIN_SECONDS),
            "VAULTAPI_ABUSE__IP_HANDSHAKES_PER_WINDOW": "100000",
        }
        with running_server(workdir, env=env) as server:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
                await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
                login = await client.login(http, EMAIL, PASSWORD)
            stop_at = loop.time() + 30
            kinds = ["handshake", "sync"] * 6
            load = [
                asyncio.create_task(_load(server.base_url, login.access_token, stop_at, kind))
                for kind in kinds
            ]
            await asyncio.sleep(1.0)
            signalled_at = loop.time()
            server.process.send_signal(signal.SIGTERM)
            results = await asyncio.gather(*load)
            exit_code = await asyncio.to_thread(server.process.wait, 30)
            log = server.log()

    outcomes = [outcome for result in results for outcome in result]
    failed = [outcome for outcome in outcomes if outcome.kind == "failed"]
    assert failed == [], [(o.sent - signalled_at, o.done - signalled_at) for o in failed]
    assert all(result[-1].kind == "refused" for result in results)  # the listener closed

    answered = [outcome for outcome in outcomes if outcome.kind == "response"]
    assert {(o.status, o.code) for o in answered} == {(200, ""), (503, "shutting_down")}
    in_flight = [o for o in answered if o.sent < signalled_at < o.done and o.status == 200]
    assert in_flight, "no request was running when SIGTERM arrived"
    drained = [o for o in answered if o.status == 503]
    assert min(o.done for o in drained) >= signalled_at
    assert len(drained) == len(kinds)  # each client once, then it waited past the drain
    refused_at = min(result[-1].sent for result in results)
    assert refused_at - signalled_at >= DRAIN_SECONDS  # still listening for the whole drain

    assert exit_code in (0, -signal.SIGTERM)
    messages = [json.loads(line)["message"] for line in log.splitlines() if line.startswith("{")]
    drain_at = next(i for i, m in enumerate(messages) if m.startswith("SIGTERM: draining"))
    closed_at = messages.index("database pool closed")
    assert drain_at < closed_at
    assert "Application shutdown complete." in messages[drain_at:]
    assert "Traceback" not in log
    assert '"level": "ERROR"' not in log


@pytest.mark.slow
def test_every_worker_drains_and_closes_its_pool(workdir: Path, postgresql_url: str) -> None:
    """With --workers 2 the supervisor passes SIGTERM on; each worker drains."""
    env = {
        **production_environment(postgresql_url),
        "VAULTAPI_SERVER__SHUTDOWN_DRAIN_SECONDS": str(DRAIN_SECONDS),
        "VAULTAPI_HTTP__TRUSTED_PROXIES": '["10.0.0.0/8"]',  # no plain-HTTP warning
    }
    with running_server(workdir, env=env, args=["--workers", "2"]) as server:
        # /readyz answered from one worker; under load the other may still be starting.
        deadline = time.monotonic() + 60
        while server.log().count("started (production mode)") < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert server.log().count("started (production mode)") == 2, server.log()
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)  # the supervisor passes the signal on
        statuses = set()
        for _ in range(10):  # both workers answer 503 while they drain
            response = httpx.get(f"{server.base_url}/readyz")
            statuses.add((response.status_code, response.json().get("code")))
        exit_code = server.process.wait(timeout=30)
    log = server.log()
    assert statuses == {(503, "shutting_down")}
    assert exit_code == 0
    assert log.count("SIGTERM: draining") == 2
    assert log.count("database pool closed") == 2
    assert '"level": "ERROR"' not in log


def test_retry_after_points_past_the_end_of_the_drain() -> None:
    drain = Drain()
    assert drain.retry_after() == 1
    drain.listening_until = time.monotonic() + 4.2
    assert drain.retry_after() == 6  # ceil(4.2) + 1: the listener is closed by then
    drain.listening_until = time.monotonic() - 10
    assert drain.retry_after() == 1
