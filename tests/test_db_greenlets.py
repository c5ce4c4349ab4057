"""`vaultapi.db.greenlets.run_sync`: SQLAlchemy's `await_` inside a greenlet
that is kept for the next call, with `greenlet_spawn`'s behaviour: the
result, what the call or its awaitable raised, cancellation, calls suspended
side by side, context variables, and the real pool on PostgreSQL."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import threading
import weakref
from typing import Any

import pytest
from greenlet import getcurrent
from sqlalchemy import event, literal, select
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


def live_runners() -> int:
    gc.collect()
    return sum(isinstance(thing, greenlets._Runner) for thing in gc.get_objects())


async def test_greenlets_beyond_those_kept_are_freed_after_a_burst() -> None:
    """A burst of calls waiting side by side makes a greenlet each; once they
    are done, only `KEPT` stay (a runner must not keep itself alive)."""
    gate = asyncio.Event()
    burst = greenlets.KEPT + 20
    calls = [asyncio.ensure_future(run_sync(lambda: await_(gate.wait()))) for _ in range(burst)]
    await asyncio.sleep(0.01)
    assert live_runners() >= burst
    gate.set()
    await asyncio.gather(*calls)
    assert live_runners() <= greenlets.KEPT


def test_a_threads_greenlets_are_freed_when_the_thread_ends() -> None:
    def in_a_thread() -> None:
        asyncio.run(run_sync(lambda: None))

    before = live_runners()
    threads = [threading.Thread(target=in_a_thread) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert live_runners() <= before


class Payload:
    pass


class ReturnsPayload:
    def __init__(self, payload: Payload) -> None:
        self.payload = payload

    def __call__(self) -> Payload:
        return self.payload


async def test_a_kept_greenlet_holds_nothing_of_the_call_it_finished() -> None:
    """What a call returned or raised, and the call itself, are the caller's
    alone once it has them: a connection dropped by its request can still be
    collected (and so given back to the pool)."""
    payload = Payload()
    returned = weakref.ref(payload)
    returns_payload = ReturnsPayload(payload)
    call = weakref.ref(returns_payload)
    assert await run_sync(returns_payload) is payload
    del payload, returns_payload
    gc.collect()
    assert returned() is None
    assert call() is None

    def fails() -> None:
        raise CallError("dropped")

    with pytest.raises(CallError) as caught:
        await run_sync(fails)
    error = weakref.ref(caught.value)
    del caught
    gc.collect()
    assert error() is None


async def test_the_call_sees_the_callers_context_variables_and_keeps_none() -> None:
    token = REQUEST.set("request-1")
    try:
        assert await run_sync(lambda: REQUEST.get("unset")) == "request-1"
    finally:
        REQUEST.reset(token)
    assert await run_sync(lambda: REQUEST.get("unset")) == "unset"
    assert all(runner.gr_context is None for runner in greenlets._idle.runners)


async def test_a_context_variable_set_in_the_call_is_the_callers_as_with_greenlet_spawn() -> None:
    def sets() -> None:
        REQUEST.set("set in the call")

    token = REQUEST.set("before")
    try:
        await run_sync(sets)
        assert REQUEST.get() == "set in the call"
    finally:
        REQUEST.reset(token)


async def test_the_pool_connects_and_serves_through_kept_greenlets(postgresql_url: str) -> None:
    """A checkout that must open a connection awaits inside the kept greenlet;
    later checkouts reuse both the connection and the greenlet."""
    engine = create_engine(postgresql_url, DatabaseSettings(pool_size=1, max_overflow=0))
    probe = Query(select(literal(1).label("one")))
    checked_out_in: list[Any] = []
    event.listen(
        engine.sync_engine.pool,
        "checkout",
        lambda *_: checked_out_in.append(getcurrent()),
    )
    try:
        for _ in range(3):
            async with Db.reading(engine) as db:
                row = await db.fetchrow(probe)
                assert row is not None
                assert row["one"] == 1
        assert engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        assert len(checked_out_in) == 3
        assert len(set(checked_out_in)) == 1  # one kept greenlet for every checkout
        assert checked_out_in[0] is not getcurrent()
    finally:
        await engine.dispose()
