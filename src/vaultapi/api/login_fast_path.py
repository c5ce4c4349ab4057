"""The three login routes without FastAPI's routing and request handling.

Why: a login is three requests (prelogin, srp/start, srp/verify), and issue 3
gives the whole login 5 ms of server CPU. FastAPI's routing through included
routers, its request handler (content-type check, body parsing, dependency
solving, response validation) and Starlette's exception wrapping cost about
0.5 M instructions per request (callgrind, one worker: prelogin 1.24 M through
FastAPI, 0.76 M here), more than the route's own work at prelogin.

What this does for `POST` on exactly those three paths, as the innermost of
our middleware (inside the request id, access log, security headers, drain
and body size limit, so all of those apply unchanged):

- It reads the body, up to `MAX_BODY_BYTES`. Only a whole body sent as
  `Content-Type: application/json` that `json.loads` decodes into an object,
  and that the route's own request model accepts, is served here. Anything
  else (a larger body, a client gone before the end, another content type,
  a body FastAPI would refuse) goes to FastAPI untouched, with the messages
  already read replayed, and gets exactly FastAPI's answer (its 415, 422,
  400…): every error about the request's shape keeps one implementation.
  FastAPI decodes with the same `json.loads` and validates the decoded object
  with the same model, so both accept the same bodies.
- It calls the same endpoint function FastAPI would (`vaultapi.api.auth`),
  with the validated body and the `Request`.
- It answers what FastAPI would: a `Response` the endpoint returned as it is;
  anything else validated against the route's response model and dumped as
  JSON with its status code (`Response(…, media_type="application/json")`,
  as FastAPI's own fast serialization path does).
- An exception goes to the app's exception handlers, looked up by the
  exception's class as Starlette's `ExceptionMiddleware` does; one without a
  handler propagates to `RequestContextMiddleware`'s last-resort 500, as it
  would from FastAPI.

`tests/api/test_login_fast_path.py` holds the declarations below to the
routes in the contract, and compares answers with the fast path on and off.
`http.login_fast_path = false` turns it off (same answers, more CPU).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, TypeAdapter
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vaultapi.api import auth
from vaultapi.metrics import ROUTE_SCOPE_KEY
from vaultapi.schemas import auth as schemas


@dataclass(frozen=True, slots=True)
class FastRoute:
    path: str
    request_model: type[BaseModel]
    endpoint: Callable[[Any, Request], Awaitable[Any]]
    response_model: type[BaseModel]
    status_code: int = 200

    def response_bytes(self, value: Any) -> bytes:
        """As FastAPI answers a route's return value: validated against the
        response model (an instance of it passes as it is), then dumped."""
        adapter = _ADAPTERS[self.response_model]
        return adapter.dump_json(
            adapter.validate_python(value, from_attributes=True), by_alias=True
        )


MAX_BODY_BYTES = 8 * 1024
"""Larger bodies go to FastAPI unread: no login body comes near (the largest,
srp/start's, is under 1.1 KiB), and a larger one would otherwise be parsed
twice, here and by FastAPI, to be refused."""

LOGIN_ROUTES = (
    FastRoute(
        "/v1/auth/prelogin", schemas.PreloginRequest, auth.prelogin, schemas.PreloginResponse
    ),
    FastRoute(
        "/v1/auth/srp/start", schemas.SRPStartRequest, auth.srp_start, schemas.SRPStartResponse
    ),
    FastRoute(
        "/v1/auth/srp/verify",
        schemas.SRPVerifyRequest,
        auth.srp_verify,
        schemas.SRPVerifyResponse,
    ),
)
_BY_PATH = {route.path: route for route in LOGIN_ROUTES}
_ADAPTERS: dict[type[BaseModel], TypeAdapter[Any]] = {
    route.response_model: TypeAdapter(route.response_model) for route in LOGIN_ROUTES
}


class LoginFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = _BY_PATH.get(scope["path"]) if scope["type"] == "http" else None
        if route is None or scope["method"] != "POST" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        # Named now: a body over the size limit (which `receive` raises) is
        # this route's 413 in the access log and the metrics.
        scope[ROUTE_SCOPE_KEY] = route.path
        messages, body = await _read_body(receive)
        value = _parsed(route, body, Headers(scope=scope)) if body is not None else None
        if value is None:
            del scope[ROUTE_SCOPE_KEY]  # FastAPI's routing names it
            await self.app(scope, _replaying(messages, receive), send)
            return
        # The endpoint reads no body, but one that did would get it again.
        request = Request(scope, _replaying(messages, receive))
        try:
            result = await route.endpoint(value, request)
            if isinstance(result, Response):
                response = result
            else:
                response = Response(
                    route.response_bytes(result),
                    status_code=route.status_code,
                    media_type="application/json",
                )
        except Exception as exc:
            handler = _handler_for(scope, exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)


async def _read_body(receive: Receive) -> tuple[list[Message], bytes | None]:
    """The messages read, and the whole body, or None when the fast path does
    not take the request: a body over `MAX_BODY_BYTES` (what remains of it is
    left unread), or a disconnect before its end. The body size limit, outside,
    raises from `receive` when its own limit is crossed."""
    messages = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None
        size += len(message.get("body", b""))
        if size > MAX_BODY_BYTES:
            return messages, None
        if not message.get("more_body", False):
            return messages, b"".join(one.get("body", b"") for one in messages)


def _parsed(route: FastRoute, body: bytes, headers: Headers) -> BaseModel | None:
    """The validated body, or None for anything FastAPI should answer itself."""
    if headers.get("content-type") != "application/json" or not body:
        return None
    try:
        decoded = json.loads(body)
        if not isinstance(decoded, dict):
            return None
        return route.request_model.model_validate(decoded)
    except Exception:  # FastAPI parses it again and answers the error itself
        return None


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    """`receive` for FastAPI: the messages already read, in order, then the
    connection's own."""
    pending = deque(messages)

    async def replay() -> Message:
        return pending.popleft() if pending else await receive()

    return replay


def _handler_for(scope: Scope, exc: Exception) -> Callable[[Request, Exception], Any] | None:
    """The app's handler for `exc` as Starlette's `ExceptionMiddleware` looks
    it up: by the exception's classes in MRO order. (Starlette also looks up
    an `HTTPException` by its status code first, and runs a handler that is
    not a coroutine in a thread: this app registers neither kind, which
    `tests/api/test_login_fast_path.py` checks.)"""
    handlers: dict[Any, Callable[[Request, Exception], Any]] = scope["app"].exception_handlers
    for cls in type(exc).__mro__:
        if cls in handlers:
            return handlers[cls]
    return None
