"""`vaultapi.db.greenlets.run_sync`: SQLAlchemy's `await_` inside a greenlet
that is kept for the next call, with `greenlet_spawn`'s behaviour: the
result, what the call or its awaitable raised, cancellation, calls suspended
side by side, context variables, and the real pool on PostgreSQL."""

from __future__ import annotations

import asyncio
import contextvars

import pytest
from greenlet import getcurrent
from sqlalchemy import literal, select
from sqlalchemy.util import await_

from vaultapi.config import DatabaseSettings
from vaultapi.db import greenlets
from vaultapi.db.direct import Db, Query
from vaultapi.db.engine import create_engine
from vaultapi.db.greenlets import run_sync

REQUEST = contextvars.ContextVar[str]("REQUEST")


class CallError(Exception):
    pass


async def test_a_call_that_never_awaits_returns_its_value_in_a_kept_greenlet() -> None:
    first = await run_sync(getcurrent)
    second = await run_sync(getcurrent)
    assert first is second  # the same greenlet: no new frame stack per call
    assert first is not getcurrent()


async def test_a_call_may_await_and_gets_the_awaited_value() -> None:
    async def later(value: int) -> int:
        await asyncio.sleep(0)
        return value * 2

    assert await run_sync(lambda: await_(later(21)) + await_(later(1))) == 44


async def test_what_the_call_raises_reaches_the_caller_and_the_greenlet_stays_usable() -> None:
    def fails() -> None:
        raise CallError("in the call")

    with pytest.raises(CallError, match="in the call"):
        await run_sync(fails)
    assert await run_sync(lambda: 7) == 7


async def test_what_the_awaitable_raises_is_thrown_into_the_call() -> None:
    async def refuses() -> None:
        await asyncio.sleep(0)
        raise CallError("in the awaitable")

    def handles() -> str:
        try:
            await_(refuses())
        except CallError as exc:
            return f"caught {exc}"
        return "not raised"

    assert await run_sync(handles) == "caught in the awaitable"


async def test_a_cancelled_caller_cancels_the_call_and_later_calls_still_work() -> None:
    started = asyncio.Event()
    seen: list[str] = []

    def waits() -> None:
        started.set()
        try:
            await_(asyncio.sleep(60))
        except asyncio.CancelledError:
            seen.append("cancelled inside the call")
            raise

    task = asyncio.ensure_future(run_sync(waits))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == ["cancelled inside the call"]
    assert await run_sync(lambda: "next") == "next"


async def test_calls_suspended_at_once_each_get_a_greenlet_of_their_own() -> None:
    gate = asyncio.Event()

    def waits_for_the_gate(name: str) -> tuple[str, object]:
        await_(gate.wait())
        return name, getcurrent()

    first = asyncio.ensure_future(run_sync(lambda: waits_for_the_gate("first")))
    second = asyncio.ensure_future(run_sync(lambda: waits_for_the_gate("second")))
    await asyncio.sleep(0.01)
    gate.set()
    (name_1, greenlet_1), (name_2, greenlet_2) = await asyncio.gather(first, second)
    assert (name_1, name_2) == ("first", "second")
    assert greenlet_1 is not greenlet_2
    assert len(greenlets._idle.runners) <= greenlets.KEPT


async def test_the_call_sees_the_callers_context_variables_and_keeps_none() -> None:
    token = REQUEST.set("request-1")
    try:
        assert await run_sync(lambda: REQUEST.get("unset")) == "request-1"
    finally:
        REQUEST.reset(token)
    assert await run_sync(lambda: REQUEST.get("unset")) == "unset"
    assert all(runner.gr_context is None for runner in greenlets._idle.runners)


async def test_the_pool_connects_and_serves_through_kept_greenlets(postgresql_url: str) -> None:
    """A checkout that must open a connection awaits inside the kept greenlet;
    later checkouts reuse both the connection and the greenlet."""
    engine = create_engine(postgresql_url, DatabaseSettings(pool_size=1, max_overflow=0))
    probe = Query(select(literal(1).label("one")))
    try:
        for _ in range(3):
            async with Db.reading(engine) as db:
                row = await db.fetchrow(probe)
                assert row is not None
                assert row["one"] == 1
        assert engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        await engine.dispose()
