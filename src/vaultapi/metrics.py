"""Prometheus metrics: requests by route template and status, their latency,
authentication outcomes (logins, lockouts), and the database pool.

Exposure is a setting (`metrics.mode`): `off` (the default), `token` (`GET
/metrics` with `Authorization: Bearer <metrics.token>`), or `port` (a separate
listener on `metrics.port`, for a scraper on a private network). Each worker
process counts for itself; with several workers set PROMETHEUS_MULTIPROC_DIR
(prometheus-client's multiprocess mode) so that one scrape sees them all.
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

REQUESTS = Counter("vaultapi_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "vaultapi_http_request_duration_seconds",
    "Time to the end of the response",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
AUTH_EVENTS = Counter(
    "vaultapi_auth_events_total",
    "Authentication attempts by action and outcome (blocked = refused by a limit)",
    ["action", "outcome"],
)
POOL_CHECKED_OUT = Gauge(
    "vaultapi_db_pool_connections_in_use", "Database connections in use", multiprocess_mode="sum"
)
POOL_SIZE = Gauge(
    "vaultapi_db_pool_size", "Database pool size (without overflow)", multiprocess_mode="max"
)


ROUTE_SCOPE_KEY = "vaultapi.route"
"""The route template of a request that FastAPI's routing did not match,
because `vaultapi.api.login_fast_path` served it."""


def route_of(scope: Scope) -> str:
    """The matched route's full template (`/v1/vault/items/{item_id}`): a
    bounded label set, unlike raw paths. FastAPI ≥ 0.160 matches through
    included routers and keeps the full template on its effective route
    context; `scope["route"]` alone would lack the include prefix."""
    served_here = scope.get(ROUTE_SCOPE_KEY)
    if served_here:
        return str(served_here)
    context = scope.get("fastapi", {}).get("effective_route_context")
    path = getattr(context, "path_format", None)
    if not path:
        path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) and path else "unmatched"


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            route = route_of(scope)
            REQUESTS.labels(scope["method"], route, str(status)).inc()
            LATENCY.labels(scope["method"], route).observe(time.perf_counter() - started)


def watch_pool(engine: AsyncEngine) -> None:
    pool: Any = engine.pool
    if hasattr(pool, "checkedout"):
        POOL_CHECKED_OUT.set_function(lambda: float(pool.checkedout()))
        POOL_SIZE.set_function(lambda: float(pool.size()))


def exposition() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


def token_matches(sent: str | None, expected: str) -> bool:
    if not sent or not sent.startswith("Bearer "):
        return False
    return hmac.compare_digest(sent.removeprefix("Bearer ").encode(), expected.encode())


def serve_on_port(port: int, host: str) -> None:
    """The separate listener (once per process; a second worker finds the port
    taken and says so: use multiprocess mode with several workers)."""
    try:
        start_http_server(port, addr=host)
        log.info("metrics on http://%s:%d/metrics", host, port)
    except OSError as exc:
        log.warning("metrics port %d not opened by this worker: %s", port, exc)
