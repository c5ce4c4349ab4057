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

KEPT = 8
"""Idle greenlets kept per thread: as many calls as are suspended at once
(connecting, waiting for a pool slot); more are made when needed."""


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
        super().__init__(self._serve)

    def _serve(self, call: Callable[[], Any]) -> None:
        while True:
            try:
                finished = _Finished(call())
            except BaseException as exc:  # handed to the caller, who raises it
                finished = _Finished(error=exc)
            call = self.parent.switch(finished)


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
    if result.error is not None:
        error, result.error = result.error, None
        raise error
    return cast(T, result.value)
