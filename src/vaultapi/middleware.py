"""Pure ASGI middleware: request context, security headers, body size limit.

Pure ASGI rather than `BaseHTTPMiddleware`, so that streaming bodies and
context variables behave, and so that the order is explicit (outermost first):

1. CORS, when origins are configured: outermost, so that even a last-resort
   500 carries the CORS headers a browser client needs to read it.
2. `RequestContextMiddleware` — request id (accepted or created, echoed, put in
   every log line), access log, security headers on every response, and the
   last-resort handler: an unexpected exception becomes a 500 problem with
   the request id; the traceback goes to the log only.
3. `DrainMiddleware` — 503 for every request that arrives while the process
   drains before shutting down (`vaultapi.shutdown`).
4. `BodySizeLimitMiddleware` — 413 before the body is read whole.
5. `vaultapi.api.login_fast_path.LoginFastPath` — the three login routes
   without FastAPI's routing (on by default; `http.login_fast_path`).

`ForwardedHeadersMiddleware` (`vaultapi.proxies`) sits outside all of them, so
that the client address and scheme they see are already the real ones.

FastAPI's own `max_body_size` is not used: it sits outside user middleware
and answers in plain text, without problem+json or a request id.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vaultapi.errors import (
    BadRequest,
    InternalError,
    PayloadTooLarge,
    ShuttingDown,
    instance_of,
    problem_response,
)
from vaultapi.logs import request_id_var
from vaultapi.metrics import route_of
from vaultapi.shutdown import Drain

access_log = logging.getLogger("vaultapi.access")
error_log = logging.getLogger("vaultapi.errors")

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_KEY = REQUEST_ID_HEADER.lower().encode("latin-1")
_ACCEPTABLE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{8,128}")

STRICT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def _request_id_from(headers: Headers) -> str:
    """Accept a caller's id (from a proxy or client) when it is safe to echo and
    log, else make one. A malformed id is replaced, not rejected: tracing must
    never turn a good request into a failed one."""
    offered = headers.get(REQUEST_ID_HEADER)
    if offered and _ACCEPTABLE_REQUEST_ID.fullmatch(offered):
        return offered
    return uuid.uuid4().hex


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, hsts_max_age_seconds: int) -> None:
        self.app = app
        self.hsts = f"max-age={hsts_max_age_seconds}; includeSubDomains"
        # Encoded once: every response gets them (a per-request cost otherwise).
        self._headers = _raw_headers(self._security_headers({"scheme": "http"}))
        self._tls_headers = _raw_headers(self._security_headers({"scheme": "https"}))

    def _security_headers(self, scope: Scope) -> Iterable[tuple[str, str]]:
        yield "X-Content-Type-Options", "nosniff"
        yield "X-Frame-Options", "DENY"
        yield "Referrer-Policy", "no-referrer"
        yield "Cross-Origin-Opener-Policy", "same-origin"
        yield "Cross-Origin-Resource-Policy", "same-origin"
        yield "Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()"
        # Routes that need something else (docs pages and their assets) set their own.
        yield "Cache-Control", "no-store"
        yield "Content-Security-Policy", STRICT_CSP
        if scope.get("scheme") == "https":
            yield "Strict-Transport-Security", self.hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = _request_id_from(Headers(scope=scope))
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                # The app's headers with ours added: the request id replaces
                # any the app set; a security header the app set itself (the
                # docs pages' own policy) is kept.
                raw = [pair for pair in message.get("headers", ()) if pair[0] != _REQUEST_ID_KEY]
                present = {name for name, _ in raw}
                raw.append((_REQUEST_ID_KEY, request_id.encode("latin-1")))
                secure = scope.get("scheme") == "https"
                defaults = self._tls_headers if secure else self._headers
                raw.extend(pair for pair in defaults if pair[0] not in present)
                message["headers"] = raw
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            error_log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if response_started:
                raise  # the server closes the connection: nothing else can be said now
            response = problem_response(
                InternalError(
                    "An unexpected error occurred; quote the request id when reporting it"
                ),
                instance=scope["path"],
                request_id=request_id,
            )
            await response(scope, receive, send_with_headers)
        finally:
            if access_log.isEnabledFor(logging.INFO):
                self._log_access(scope, status, started)
            request_id_var.reset(token)

    @staticmethod
    def _log_access(scope: Scope, status: int, started: float) -> None:
        client = scope.get("client")
        access_log.info(
            "%s %s %s",
            scope["method"],
            scope["path"],
            status,
            extra={
                "method": scope["method"],
                "path": scope["path"],
                "route": route_of(scope),
                "account_id": scope.get("state", {}).get("account_id"),
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "client_ip": client[0] if client else None,
            },
        )


def _raw_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]


class DrainMiddleware:
    """While draining, answer at once: retry elsewhere, and do not reuse this connection."""

    def __init__(self, app: ASGIApp, *, drain: Drain) -> None:
        self.app = app
        self.drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.drain.draining:
            await self.app(scope, receive, send)
            return
        response = problem_response(
            ShuttingDown(
                "This server is shutting down; retry the request",
                headers={"Retry-After": str(self.drain.retry_after()), "Connection": "close"},
            ),
            instance=instance_of(scope["path"]),
            request_id=scope.get("state", {}).get("request_id"),
        )
        await response(scope, receive, send)


class BodySizeLimitMiddleware:
    """Refuse bodies over `max_body_bytes` without reading them whole.

    A declared `Content-Length` over the limit is answered at once, before any
    byte of the body is read. A body without one (chunked) is counted as it
    streams in; the chunk that crosses the limit makes every later read fail,
    and whatever the application then tries to answer is replaced by the 413.
    """

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, per_path: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.default_limit = max_body_bytes
        self.per_path = per_path or {}
        """Exact paths with their own limit (the vault import carries many items)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = scope.get("state", {}).get("request_id")
        limit = self.per_path.get(scope["path"], self.default_limit)

        def too_large() -> PayloadTooLarge:
            return PayloadTooLarge(
                f"The request body exceeds the limit of {limit} bytes",
                extra={"max_body_bytes": limit},
                headers={"Connection": "close"},
            )

        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            # ASCII digits only, at most 18 of them: `isdigit()` alone accepts "²",
            # and `int()` refuses more than 4300 digits with a ValueError.
            if not (declared.isascii() and declared.isdigit() and len(declared) <= 18):
                response = problem_response(
                    BadRequest("Content-Length is not a number"),
                    instance=instance_of(scope["path"]),
                    request_id=request_id,
                )
                await response(scope, receive, send)
                return
            if int(declared) > limit:
                response = problem_response(
                    too_large(), instance=scope["path"], request_id=request_id
                )
                await response(scope, receive, send)
                return

        received = 0
        exceeded = False
        replaced = False
        app_started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise too_large()
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise too_large()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal replaced, app_started
            if not exceeded:
                app_started = app_started or message["type"] == "http.response.start"
                await send(message)
                return
            if app_started:
                # The app answered before reading the whole body; a second
                # response cannot follow. Abort: the server drops the connection.
                raise too_large()
            if message["type"] == "http.response.start" and not replaced:
                replaced = True
                response = problem_response(
                    too_large(), instance=scope["path"], request_id=request_id
                )
                await response(scope, receive, send)
            # drop the application's own response to the oversized request

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not exceeded or replaced or app_started:
                raise
            await guarded_send({"type": "http.response.start", "status": 413, "headers": []})
