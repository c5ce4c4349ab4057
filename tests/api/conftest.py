"""A registered account and helpers to drive the SRP handshake by hand.

Only attack tests build SRP values by hand; everything else goes through the
reference client (`vaultapi.client`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from vaultapi import client
from vaultapi.crypto import srp
from vaultapi.crypto.kdf import MINIMUM_KDF, derive_master_key, derive_subkeys, srp_password
from vaultapi.runtime import Runtime

T = TypeVar("T")

EMAIL = "alice@example.com"
PASSWORD = "correct horse battery staple"


@dataclass
class Account:
    email: str
    password: str
    account_id: Any


def runtime_of(http: httpx.AsyncClient) -> Runtime:
    transport = http._transport
    assert isinstance(transport, httpx.ASGITransport)
    app = transport.app
    assert isinstance(app, FastAPI)
    runtime: Runtime = app.state.runtime
    return runtime


@pytest.fixture
async def alice(client_http: httpx.AsyncClient) -> Account:
    registration = await client.register(client_http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
    return Account(EMAIL, PASSWORD, registration.account_id)


async def srp_password_for(http: httpx.AsyncClient, email: str, password: str) -> str:
    params, salt = await client.prelogin(http, email)
    return srp_password(derive_subkeys(derive_master_key(password, salt, params)).auth_key)


@dataclass
class Handshake:
    handshake_id: str
    proof: srp.ClientProof


async def start_handshake(
    http: httpx.AsyncClient, email: str, password_p: str, headers: dict[str, str] | None = None
) -> Handshake:
    start = srp.client_start()
    response = await http.post(
        "/v1/auth/srp/start",
        json={"email": email, "A": srp.encode_int(start.public_A)},
        headers=headers or {},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    proof = srp.client_proof(
        email,
        password_p,
        bytes.fromhex(body["srp_salt"]),
        start,
        srp.parse_group_element(body["B"], name="B"),
    )
    return Handshake(body["handshake_id"], proof)


async def verify(
    http: httpx.AsyncClient, handshake_id: str, m1: bytes, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await http.post(
        "/v1/auth/srp/verify",
        json={"handshake_id": handshake_id, "M1": m1.hex()},
        headers=headers or {},
    )


async def waiting(
    http: httpx.AsyncClient, work: Awaitable[T], *, waiters: int = 1
) -> asyncio.Task[T]:
    """Start `work` and return its task once PostgreSQL shows `waiters`
    backends of this database waiting for a lock (the work, behind a row the
    test holds, and those already waiting)."""
    task = asyncio.ensure_future(work)
    waits = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    async with runtime_of(http).sessionmaker() as probe:
        for _ in range(200):
            if (await probe.scalar(waits) or 0) >= waiters:
                break
            assert not task.done(), f"finished without waiting: {await task!r}"
            await asyncio.sleep(0.05)
            await probe.rollback()  # a fresh snapshot of pg_stat_activity
        else:
            raise AssertionError("the request never waited for the held row")
    assert not task.done()
    return task
