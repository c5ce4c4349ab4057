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

- It reads the body. Only a body sent as `Content-Type: application/json`
  that `json.loads` decodes into an object, and that the route's own request
  model accepts, is served here. Anything else goes to FastAPI untouched, with
  the same body replayed, and gets exactly FastAPI's answer (its 415, 422,
  400…): every error about the request's shape keeps one implementation.
  FastAPI decodes with the same `json.loads` and validates the decoded object
  with the same model, so both accept the same bodies.
- It calls the same endpoint function FastAPI would (`vaultapi.api.auth`),
  with the validated body and the `Request`.
- It answers what FastAPI would: a `Response` the endpoint returned as it is;
  a model as JSON with the route's response model and status code
  (`Response(…, media_type="application/json")`, as FastAPI's own fast
  serialization path does).
- An exception goes to the app's exception handlers, looked up by the
  exception's class as Starlette's `ExceptionMiddleware` does; one without a
  handler propagates to `RequestContextMiddleware`'s last-resort 500, as it
  would from FastAPI.

`tests/api/test_login_fast_path.py` holds the declarations below to the
routes in the contract, and compares answers with the fast path on and off.
`http.login_fast_path = false` turns it off (same answers, more CPU).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, TypeAdapter
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
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
        return _ADAPTERS[self.response_model].dump_json(value, by_alias=True)


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
        body = await _read_body(receive)
        value = _parsed(route, body, Headers(scope=scope))
        if value is None:
            await self.app(scope, _replaying(body, receive), send)
            return
        scope[ROUTE_SCOPE_KEY] = route.path
        request = Request(scope, receive)
        try:
            result = await route.endpoint(value, request)
        except Exception as exc:
            handler = _handler_for(scope, exc)
            if handler is None:
                raise
            handled = handler(request, exc)
            response = await handled if inspect.isawaitable(handled) else handled
        else:
            if isinstance(result, Response):
                response = result
            else:
                response = Response(
                    route.response_bytes(result),
                    status_code=route.status_code,
                    media_type="application/json",
                )
        await response(scope, receive, send)


async def _read_body(receive: Receive) -> bytes:
    """The whole body, as Starlette's `Request.body()` reads it (the body size
    limit, outside, raises from `receive` when it is crossed)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


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


def _replaying(body: bytes, receive: Receive) -> Receive:
    """`receive` for FastAPI: the body already read, then the connection's own messages."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


def _handler_for(scope: Scope, exc: Exception) -> Callable[[Request, Exception], Any] | None:
    """The app's handler for `exc` as Starlette's `ExceptionMiddleware` looks
    it up: an HTTP exception's status code first, then the exception's
    classes in MRO order."""
    handlers: dict[Any, Callable[[Request, Exception], Any]] = scope["app"].exception_handlers
    if isinstance(exc, HTTPException) and exc.status_code in handlers:
        return handlers[exc.status_code]
    for cls in type(exc).__mro__:
        if cls in handlers:
            return handlers[cls]
    return None
