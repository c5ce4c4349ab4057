"""Server CPU per request measured in-process, without HTTP or sockets.

Runs the real app (lifespan, PostgreSQL on a fresh database, migrations) and
calls it as an ASGI application directly, sequentially, timing this process's
CPU (`time.process_time`) around the server side of each request only. No
load generator shares the measurement, so the figures are repeatable even on a
busy machine; they leave out uvicorn's HTTP parsing and socket writes, which
`bench/floor.py` measures (a bare hello-world route under uvicorn): a lower
bound of the login figure of `bench/login.py`.

    .venv/bin/python -m bench.inprocess [--quick]
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from typing import Any

import httpx

from bench import login as login_bench
from bench._support import Row, Sizes, fresh_postgres
from vaultapi import client
from vaultapi.config import Settings
from vaultapi.crypto import encstring
from vaultapi.crypto.kdf import MINIMUM_KDF, derive_master_key, derive_subkeys, srp_password
from vaultapi.main import create_app

EMAIL = "inprocess@example.com"
PASSWORD = "benchmark password"
BATCHES = 3
"""The best batch counts: other load on the machine only ever adds CPU time."""
SECTION = f"In-process server CPU per request (ASGI called directly, best of {BATCHES} batches)"
ACTIONS = {
    "healthz": "GET /healthz",
    "item_read": "GET /v1/vault/items/{id}",
    "item_update": "PUT /v1/vault/items/{id}",
    "item_create": "POST /v1/vault/items",
    "login": "login (prelogin + srp/start + srp/verify): lower bound of the login figure",
}


class Timed:
    """An ASGI app wrapper that adds up the CPU time spent inside the app."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.cpu = 0.0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.process_time()
        try:
            await self.app(scope, receive, send)
        finally:
            self.cpu += time.process_time() - started


async def _measure(url: str, rounds: int, data_dir: str) -> dict[str, float]:
    overrides: dict[str, Any] = {
        "database_url": url,
        "data_dir": data_dir,
        "database": {"auto_migrate": True},
        "abuse": {"ip_handshakes_per_window": 10**8, "ip_registrations_per_window": 10**8},
        "log": {"level": "WARNING"},
    }
    settings = Settings(**overrides)
    app = create_app(settings)
    timed = Timed(app)
    results: dict[str, float] = {}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=timed), base_url="http://bench"
        ) as http,
    ):
        await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        params, salt = await client.prelogin(http, EMAIL)
        password_p = srp_password(
            derive_subkeys(derive_master_key(PASSWORD, salt, params)).auth_key
        )
        login = await client.login(http, EMAIL, PASSWORD)
        http.headers.update(login.auth_header)

        def new_item() -> dict[str, Any]:
            item_id = str(uuid.uuid4())
            return {
                "id": item_id,
                "type": "login",
                "key": encstring.encrypt(login.account_key, b"k" * 32, item_id),
                "data": encstring.encrypt(b"k" * 32, b"x" * 360, item_id),
            }

        ids = []
        bodies: dict[str, dict[str, Any]] = {}
        etags: dict[str, str] = {}
        for _ in range(20):
            body = new_item()
            created = await http.post("/v1/vault/items", json=body)
            created.raise_for_status()
            ids.append(body["id"])
            bodies[body["id"]] = {k: v for k, v in body.items() if k != "id"}
            etags[body["id"]] = created.headers["ETag"]

        async def healthz(n: int) -> None:
            (await http.get("/healthz")).raise_for_status()

        async def get_item(n: int) -> None:
            (await http.get(f"/v1/vault/items/{ids[n % len(ids)]}")).raise_for_status()

        async def update_item(n: int) -> None:
            item_id = ids[n % len(ids)]
            updated = await http.put(
                f"/v1/vault/items/{item_id}",
                json=bodies[item_id],
                headers={"If-Match": etags[item_id]},
            )
            updated.raise_for_status()
            etags[item_id] = updated.headers["ETag"]

        # Encrypted up front: the client's work is not the server's CPU.
        fresh = [new_item() for _ in range(10 + BATCHES * rounds)]

        async def create_item(n: int) -> None:
            (await http.post("/v1/vault/items", json=fresh.pop())).raise_for_status()

        async def one_login(n: int) -> None:
            await login_bench.one_login(
                http, password_p, email=EMAIL, verify_headers={"Authorization": ""}
            )

        for key, action, count in (
            ("healthz", healthz, rounds),
            ("item_read", get_item, rounds),
            ("item_update", update_item, rounds),
            ("item_create", create_item, rounds),
            ("login", one_login, max(20, rounds // 4)),
        ):
            for n in range(10):
                await action(n)  # warm-up: prepared statements, caches
            batches = []
            for _ in range(BATCHES):
                timed.cpu = 0.0
                for n in range(count):
                    await action(n)
                batches.append(timed.cpu / count * 1000)
            results[key] = min(batches)
    return results


def measure(sizes: Sizes) -> list[Row]:
    with (
        tempfile.TemporaryDirectory() as data_dir,
        fresh_postgres("vaultapi_bench_inprocess") as url,
    ):
        results = asyncio.run(_measure(url, sizes.inprocess_rounds, data_dir))
    return [
        Row(f"inprocess.{key}", SECTION, name, results[key], "ms") for key, name in ACTIONS.items()
    ]


if __name__ == "__main__":
    from bench.all import run_alone

    run_alone("inprocess")
