"""The periodic purge deletes what expired and nothing else."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import func, select, update

from tests.api.conftest import (
    EMAIL,
    PASSWORD,
    Account,
    runtime_of,
    srp_password_for,
    start_handshake,
)
from vaultapi import client
from vaultapi.db.models import RateLimitCounter, Session, SRPHandshake
from vaultapi.db.types import utcnow
from vaultapi.services.maintenance import purge_expired


async def count(http: httpx.AsyncClient, model: type) -> int:
    async with runtime_of(http).sessionmaker() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def test_purge_removes_only_expired_rows(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    password_p = await srp_password_for(client_http, EMAIL, PASSWORD)
    await start_handshake(client_http, EMAIL, password_p)
    live = await start_handshake(client_http, EMAIL, password_p)
    old_login = await client.login(client_http, EMAIL, PASSWORD)
    current = await client.login(client_http, EMAIL, PASSWORD)
    await old_login.logout(client_http)

    runtime = runtime_of(client_http)
    now = utcnow()
    async with runtime.sessionmaker() as session:
        await session.execute(
            update(SRPHandshake)
            .where(SRPHandshake.id != uuid.UUID(live.handshake_id))  # type: ignore[arg-type]
            .values(expires_at=now - timedelta(seconds=1))
        )
        await session.execute(
            update(Session)
            .where(Session.id == old_login.session_id)  # type: ignore[arg-type]
            .values(revoked_at=now - timedelta(days=31))
        )
        await session.commit()
    counters_before = await count(client_http, RateLimitCounter)
    async with runtime.sessionmaker() as session:
        purged = await purge_expired(session, now)
        await session.commit()

    assert purged.handshakes >= 1
    assert purged.sessions == 1
    assert await count(client_http, SRPHandshake) == 1
    assert await count(client_http, RateLimitCounter) == counters_before - purged.counters
    assert (await client_http.get("/v1/account", headers=current.auth_header)).status_code == 200
