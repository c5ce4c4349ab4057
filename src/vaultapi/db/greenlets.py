"""Run a synchronous SQLAlchemy call that may await (the pool's checkout and
return) in a greenlet kept for the next call.

SQLAlchemy's `greenlet_spawn` starts a new greenlet for every call. On
CPython 3.11 a new greenlet's first Python frame gets a frame stack of its
own, 16 KiB that the kernel maps, faults in and unmaps again when the
greenlet ends: about 20 µs of system time per call on the bench machine
(`docs/performance.md`, session 10), twice per request on the direct path
(`vaultapi.db.direct`). A greenlet that waits for its next call keeps its
frame stack.

`run_sync` speaks the protocol of `greenlet_spawn` with
`sqlalchemy.util.await_`: the greenlet is marked as SQLAlchemy's greenlet
provider; when the call awaits, the greenlet switches to its parent with the
awaitable, and the parent awaits it and switches back with the result, or
throws in what the awaitable raised (a cancellation included).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

from greenlet import getcurrent, greenlet

T = TypeVar("T")

KEPT = 32
"""Idle greenlets kept per thread. One serves a request's checkout and its
return unless the call waits (connecting, a pool slot, a driver reset); more
greenlets are made while calls wait side by side, and those beyond this
number are freed when they finish."""


class _Finished:
    """What the greenlet hands back when the call has returned or raised;
    anything else it hands back is an awaitable of `await_`."""

    __slots__ = ("error", "value")

    def __init__(self, value: Any = None, error: BaseException | None = None) -> None:
        self.value = value
        self.error = error


class _Runner(greenlet):  # type: ignore[misc] # greenlet ships no types: a subclass of Any
    __sqlalchemy_greenlet_provider__ = True
    """What `sqlalchemy.util.await_` looks for before it switches to the parent."""

    def __init__(self) -> None:
        super().__init__(_serve)


def _serve(call: Callable[[], Any]) -> None:
    """A runner's life: each call, then wait for the next one. Nothing here
    refers to the runner itself, and nothing of a finished call stays bound
    while it waits: a runner that is let go (beyond `KEPT`, or its thread
    gone) is freed, `GreenletExit` ending this loop at the switch."""
    while True:
        try:
            finished = _Finished(call())
        except BaseException as exc:  # handed to the caller, who raises it
            finished = _Finished(error=exc)
        del call
        call = getcurrent().parent.switch(finished)


class _Idle(threading.local):
    """Greenlets cannot switch across threads: each thread keeps its own."""

    def __init__(self) -> None:
        self.runners: list[_Runner] = []


_idle = _Idle()


async def run_sync(call: Callable[[], T]) -> T:
    """`call()` in a kept greenlet, where SQLAlchemy may `await_`; its result,
    or what it raised, as `greenlet_spawn(call)` would."""
    idle = _idle.runners
    runner = idle.pop() if idle else _Runner()
    caller = getcurrent()
    runner.parent = caller
    runner.gr_context = caller.gr_context
    result = runner.switch(call)
    while not isinstance(result, _Finished):
        try:
            value = await result
        except BaseException:  # thrown into the call, as greenlet_spawn does
            result = runner.throw(*sys.exc_info())
        else:
            result = runner.switch(value)
    if not runner.dead and len(idle) < KEPT:
        runner.gr_context = None  # the caller's context variables stay with the caller
        idle.append(runner)
    # Emptied: the waiting runner still holds this object, not what it carried.
    value, error, result.value, result.error = result.value, result.error, None, None
    if error is not None:
        raise error
    return cast(T, value)
