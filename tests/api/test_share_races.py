"""Shares under concurrency: two app instances on one PostgreSQL database,
many simultaneous anonymous requests. Views are exact, the lock is exact, a
task claim goes to one contender. Plus the periodic purge."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlmodel import col

from tests.api.conftest import EMAIL, PASSWORD, Account, runtime_of
from tests.api.test_shares import PASSPHRASE, create, open_share, share_body
from tests.conftest import ClientFactory
from vaultapi import client
from vaultapi.crypto.kdf import MINIMUM_KDF
from vaultapi.db.models import Lease, Share, ShareAccess
from vaultapi.db.types import utcnow
from vaultapi.services.leases import run_claimed, try_claim
from vaultapi.services.maintenance import purge_shares_once
from vaultapi.services.shares import PURGE_TASK, purge_shares

# Every request comes from its own address (through a trusted proxy), so the
# per-IP counters do not serialize the requests: only the share's lock does.
INSTANCE = {"http": {"trusted_proxies": ["127.0.0.1/32"]}}


def from_ip(n: int) -> dict[str, Any]:
    return {"headers": {"X-Forwarded-For": f"10.0.{n // 250}.{n % 250 + 1}"}}


async def _two_instances(
    make_postgresql_client: ClientFactory, stack: Any
) -> tuple[httpx.AsyncClient, httpx.AsyncClient, dict[str, str]]:
    first = await stack.enter_async_context(make_postgresql_client(**INSTANCE))
    second = await stack.enter_async_context(make_postgresql_client(**INSTANCE))
    await client.register(first, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
    login = await client.login(second, EMAIL, PASSWORD)
    return first, second, login.auth_header


async def test_n_views_are_exactly_n_under_concurrency(
    make_postgresql_client: ClientFactory,
) -> None:
    from contextlib import AsyncExitStack

    async with AsyncExitStack() as stack:
        first, second, owner = await _two_instances(make_postgresql_client, stack)
        body, _, _ = share_body(max_views=5)
        await create(first, owner, body)
        answers = await asyncio.gather(
            *(open_share((first, second)[n % 2], body["id"], **from_ip(n)) for n in range(24))
        )
        statuses = Counter(answer.status_code for answer in answers)
        assert statuses == {200: 5, 410: 19}
        assert sorted(a.json()["views_left"] for a in answers if a.status_code == 200) == [
            0,
            1,
            2,
            3,
            4,
        ]
        async with runtime_of(first).sessionmaker() as session:
            row = await session.get(Share, uuid.UUID(body["id"]))
            assert row is not None
            assert (row.views_used, row.ciphertext) == (5, None)
            outcomes = Counter(
                (await session.execute(select(ShareAccess.outcome))).scalars()  # type: ignore[call-overload]
            )
        assert outcomes == {"opened": 5, "gone": 19}


async def test_no_fourth_wrong_proof_slips_through_under_concurrency(
    make_postgresql_client: ClientFactory,
) -> None:
    from contextlib import AsyncExitStack

    async with AsyncExitStack() as stack:
        first, second, owner = await _two_instances(make_postgresql_client, stack)
        body, _, keys = share_body(passphrase=PASSPHRASE, max_views=100)
        assert keys.access_proof is not None
        await create(first, owner, body)
        answers = await asyncio.gather(
            *(
                open_share((first, second)[n % 2], body["id"], bytes([n]) * 32, **from_ip(n))
                for n in range(12)
            )
        )
        statuses = Counter(answer.status_code for answer in answers)
        assert statuses == {403: 3, 410: 9}
        assert sorted(a.json()["attempts_left"] for a in answers if a.status_code == 403) == [
            0,
            1,
            2,
        ]
        right = await open_share(second, body["id"], keys.access_proof)
        assert right.status_code == 410
        async with runtime_of(first).sessionmaker() as session:
            row = await session.get(Share, uuid.UUID(body["id"]))
            assert row is not None
            assert (row.failed_proofs, row.views_used, row.ciphertext) == (3, 0, None)
            assert row.locked_at is not None


async def test_right_and_wrong_proofs_racing_never_open_a_locked_share(
    make_postgresql_client: ClientFactory,
) -> None:
    """Right proofs mixed into a burst of wrong ones: every success happened
    before the lock, and there are never more than 3 strikes."""
    from contextlib import AsyncExitStack

    async with AsyncExitStack() as stack:
        first, second, owner = await _two_instances(make_postgresql_client, stack)
        body, _, keys = share_body(passphrase=PASSPHRASE, max_views=100)
        assert keys.access_proof is not None
        await create(first, owner, body)
        proofs = [keys.access_proof if n % 3 == 0 else bytes([n]) * 32 for n in range(15)]
        answers = await asyncio.gather(
            *(
                open_share((first, second)[n % 2], body["id"], p, **from_ip(n))
                for n, p in enumerate(proofs)
            )
        )
        async with runtime_of(first).sessionmaker() as session:
            row = await session.get(Share, uuid.UUID(body["id"]))
            log = (
                await session.execute(
                    select(col(ShareAccess.outcome), col(ShareAccess.at)).order_by(
                        col(ShareAccess.id)
                    )
                )
            ).all()
        assert row is not None
        assert row.failed_proofs == 3
        assert Counter(a.status_code for a in answers)[200] == row.views_used
        outcomes = [outcome for outcome, _ in log]
        locked_at = outcomes.index("locked")
        assert "opened" not in outcomes[locked_at:]
        assert set(outcomes[locked_at + 1 :]) <= {"gone"}


@pytest.mark.parametrize("contenders", [8])
async def test_a_task_claim_goes_to_exactly_one_contender(
    client_http: httpx.AsyncClient, contenders: int
) -> None:
    """On both backends: many workers try at once, one wins; nobody gets the
    task again until the lease is over."""
    sessionmaker = runtime_of(client_http).sessionmaker
    lease = timedelta(minutes=10)
    won = await asyncio.gather(
        *(
            try_claim(sessionmaker, "test.task", lease, holder=f"worker-{n}")
            for n in range(contenders)
        )
    )
    assert won.count(True) == 1
    assert not await try_claim(sessionmaker, "test.task", lease, holder="late")
    later = utcnow() + lease
    assert await try_claim(sessionmaker, "test.task", lease, holder="next", now=later)
    async with sessionmaker() as session:
        claim = await session.get(Lease, "test.task")
        assert claim is not None
        assert claim.holder == "next"


async def test_the_purge_removes_expired_shares_once_per_lease(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    owner = (await client.login(client_http, EMAIL, PASSWORD)).auth_header
    live, _, _ = share_body()
    expired, _, _ = share_body()
    for body in (live, expired):
        await create(client_http, owner, body)
    await open_share(client_http, expired["id"])
    runtime = runtime_of(client_http)
    async with runtime.sessionmaker() as session:
        await session.execute(
            update(Share)
            .where(Share.id == uuid.UUID(expired["id"]))  # type: ignore[arg-type]
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await session.execute(
            update(ShareAccess)
            .where(ShareAccess.share_id == uuid.UUID(expired["id"]))  # type: ignore[arg-type]
            .values(at=utcnow() - timedelta(days=31))
        )
        await session.commit()

    async def purge(session: Any) -> Any:
        return await purge_shares(session, utcnow(), access_log_days=30)

    results = await asyncio.gather(
        *(run_claimed(runtime.sessionmaker, PURGE_TASK, timedelta(minutes=5), purge) for _ in "abc")
    )
    done = [result for result in results if result is not None]
    assert len(done) == 1
    assert (done[0].shares, done[0].access_records) == (1, 1)
    async with runtime.sessionmaker() as session:
        remaining = (await session.execute(select(Share.id))).scalars().all()  # type: ignore[call-overload]
        records = (await session.execute(select(func.count()).select_from(ShareAccess))).scalar()
    assert remaining == [uuid.UUID(live["id"])]
    assert records == 0
    assert (await open_share(client_http, live["id"])).status_code == 200


async def test_the_periodic_round_purges_on_one_worker_only(
    client_http: httpx.AsyncClient, alice: Account, caplog: pytest.LogCaptureFixture
) -> None:
    owner = (await client.login(client_http, EMAIL, PASSWORD)).auth_header
    body, _, _ = share_body()
    await create(client_http, owner, body)
    runtime = runtime_of(client_http)
    async with runtime.sessionmaker() as session:
        await session.execute(
            update(Share)
            .where(Share.id == uuid.UUID(body["id"]))  # type: ignore[arg-type]
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()
    caplog.set_level("INFO", logger="vaultapi.services.maintenance")
    lease = timedelta(minutes=10)
    await asyncio.gather(*(purge_shares_once(runtime.sessionmaker, lease, 30) for _ in range(4)))
    purged = [r.getMessage() for r in caplog.records if "expired shares" in r.getMessage()]
    assert purged == ["purged 1 expired shares, 0 share access records"]
    async with runtime.sessionmaker() as session:
        assert await session.get(Share, uuid.UUID(body["id"])) is None
        claim = await session.get(Lease, PURGE_TASK)
        assert claim is not None
        assert claim.expires_at > utcnow() + timedelta(minutes=9)
