"""Leases: of many workers claiming periodic work at once, exactly one gets it."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx

from tests.api.conftest import runtime_of
from vaultapi.db.repositories.leases import LeaseRepository
from vaultapi.db.types import utcnow
from vaultapi.services import leases

TTL = timedelta(seconds=60)


async def test_concurrent_claims_have_exactly_one_winner(client_http: httpx.AsyncClient) -> None:
    sessionmaker = runtime_of(client_http).sessionmaker
    now = utcnow()

    async def claim_as(worker: int) -> int | None:
        async with sessionmaker() as session:
            claimed = await leases.claim(session, "job", now=now, ttl=TTL, holder=f"w{worker}")
            await session.commit()
            return claimed

    results = await asyncio.gather(*(claim_as(n) for n in range(8)))
    assert sorted(results, key=lambda r: r is None) == [1] + [None] * 7
    async with sessionmaker() as session:
        lease = await LeaseRepository(session).get("job")
    assert lease is not None
    assert lease.holder == f"w{results.index(1)}"
    assert lease.expires_at == now + TTL


async def test_an_expired_lease_is_claimed_again_and_counted(
    client_http: httpx.AsyncClient,
) -> None:
    sessionmaker = runtime_of(client_http).sessionmaker
    start = utcnow()
    async with sessionmaker() as session:
        first = await leases.claim(session, "job", now=start, ttl=TTL, holder="a")
        same_window = await leases.claim(
            session, "job", now=start + TTL - timedelta(seconds=1), ttl=TTL, holder="b"
        )
        after = await leases.claim(session, "job", now=start + TTL, ttl=TTL, holder="b")
        other_name = await leases.claim(session, "other", now=start, ttl=TTL, holder="b")
        await session.commit()
    assert (first, same_window, after, other_name) == (1, None, 2, 1)
