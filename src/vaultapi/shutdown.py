"""Graceful shutdown: drain first, then stop.

SIGTERM (what `docker stop`, Kubernetes and systemd send) starts a drain of
`server.shutdown_drain_seconds`. The listener stays open; every request that
arrives is answered `503 shutting_down` with `Connection: close` and a
`Retry-After` that points past the end of the drain (`/readyz` included, so a
load balancer takes the worker out of rotation), while requests already
running carry on. Then uvicorn's own
graceful shutdown: the listener closes (from here on new connections are
*refused*), idle keep-alive connections are closed, running requests get up to
`server.shutdown_timeout_seconds` to finish, the lifespan closes the database
pool, and the process exits. SIGINT (Ctrl-C) skips the drain; a second
SIGTERM ends it early.

The one race TCP leaves: a connection opened in the very instant the
listener closes is reset by the kernel, its request unanswered. Clients that
honour `Retry-After`, and load balancers that have seen `/readyz` fail during
the drain, do not open one; so the drain should outlast the load balancer's
health-check interval times its failure threshold.

Why the hook is installed by the app: uvicorn's multi-worker supervisor
builds a plain `uvicorn.Server` in every worker process, so a `Server`
subclass would only cover the single-process case. The lifespan wraps the
SIGTERM handler uvicorn installed in the worker's main thread — only when
`vaultapi serve` runs the app (`create_served_app`), never when tests run it
in-process.
"""

from __future__ import annotations

import asyncio
import logging
import math
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

import uvicorn

from vaultapi.config import ServerSettings

log = logging.getLogger(__name__)


class Drain:
    """Whether this process is draining; read by `DrainMiddleware` per request."""

    def __init__(self) -> None:
        self.draining = False
        self.listening_until: float | None = None
        """`time.monotonic()` at which the listener will close."""

    def retry_after(self) -> int:
        """Seconds until this process stops listening, plus one: a client that
        honours `Retry-After` comes back to a refused connection (a clean
        signal to go elsewhere), never to a listener closing under it."""
        if self.listening_until is None:
            return 1
        return max(1, math.ceil(self.listening_until - time.monotonic()) + 1)

    def install(self, seconds: float) -> bool:
        """Delay the server's SIGTERM handling by `seconds` of draining. Returns
        whether a hook was installed (not outside the main thread, not without a
        handler to delay, not for a drain of 0)."""
        if seconds <= 0 or threading.current_thread() is not threading.main_thread():
            return False
        previous = signal.getsignal(signal.SIGTERM)
        if not callable(previous):
            return False
        loop = asyncio.get_running_loop()
        stop: Callable[[int, FrameType | None], Any] = previous

        def on_sigterm(sig: int, frame: FrameType | None) -> None:
            # A signal handler: only set a flag and hand the rest to the loop
            # (logging from here could re-enter a handler's lock).
            if self.draining:
                loop.call_soon_threadsafe(stop, sig, None)
                return
            self.listening_until = time.monotonic() + seconds
            self.draining = True
            loop.call_soon_threadsafe(self._start, loop, seconds, stop, sig)

        signal.signal(signal.SIGTERM, on_sigterm)
        return True

    @staticmethod
    def _start(
        loop: asyncio.AbstractEventLoop,
        seconds: float,
        stop: Callable[[int, FrameType | None], Any],
        sig: int,
    ) -> None:
        log.warning(
            "SIGTERM: draining for %.1f s (new requests get 503, running ones finish), "
            "then shutting down",
            seconds,
        )
        loop.call_later(seconds, stop, sig, None)


def run_server(server: ServerSettings) -> None:
    """Run uvicorn with these settings. Proxy headers are ours to interpret
    (`ForwardedHeadersMiddleware`, from `http.trusted_proxies`), not uvicorn's."""
    uvicorn.run(
        "vaultapi.main:create_served_app",
        factory=True,
        host=server.host,
        port=server.port,
        workers=server.workers,
        ssl_certfile=str(server.ssl_certfile) if server.ssl_certfile else None,
        ssl_keyfile=str(server.ssl_keyfile) if server.ssl_keyfile else None,
        proxy_headers=False,
        server_header=False,
        log_config=None,
        timeout_graceful_shutdown=math.ceil(server.shutdown_timeout_seconds),
    )
