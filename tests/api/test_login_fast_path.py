"""The login fast path (`vaultapi.api.login_fast_path`) answers what FastAPI
would: the same routes as the contract declares, the same bytes for the same
request, FastAPI's own answer for every body it does not take."""

from __future__ import annotations

import inspect
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.datastructures import DefaultPlaceholder
from fastapi.routing import APIRoute, _IncludedRouter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.conftest import ClientFactory
from vaultapi import client
from vaultapi.api import auth
from vaultapi.api.login_fast_path import LOGIN_ROUTES, MAX_BODY_BYTES
from vaultapi.config import Settings
from vaultapi.crypto.kdf import MINIMUM_KDF
from vaultapi.main import create_app
from vaultapi.metrics import ROUTE_SCOPE_KEY, route_of

EMAIL = "fast@example.com"
PASSWORD = "correct horse battery staple"
PER_REQUEST = {"x-request-id"}
"""Headers that differ between any two requests."""


class ServedBy:
    """Outermost middleware that records, per request path, whether the fast
    path served it (it marks the scope) or FastAPI's routing did."""

    def __init__(self, app: ASGIApp, seen: dict[str, list[str]]) -> None:
        self.app = app
        self.seen = seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
        if scope["type"] == "http":
            served = "fast" if ROUTE_SCOPE_KEY in scope else "fastapi"
            self.seen.setdefault(scope["path"], []).append(served)


def spying(seen: dict[str, list[str]]) -> Callable[[FastAPI], None]:
    def hook(app: FastAPI) -> None:
        app.add_middleware(ServedBy, seen=seen)

    return hook


@asynccontextmanager
async def both(
    make_client: ClientFactory,
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient, dict[str, list[str]]]]:
    """Two apps on one database and one set of server secrets: with the fast
    path (the default) and without it."""
    seen: dict[str, list[str]] = {}
    async with (
        make_client(app_hook=spying(seen)) as fast,
        make_client(http={"login_fast_path": False}) as plain,
    ):
        yield fast, plain, seen


def comparable(response: httpx.Response) -> tuple[int, dict[str, str], Any]:
    headers = {k: v for k, v in response.headers.items() if k not in PER_REQUEST}
    body: Any = response.content
    if response.headers.get("content-type", "").endswith("json"):
        body = response.json()
        if isinstance(body, dict):
            body.pop("request_id", None)
    return response.status_code, headers, body


def test_the_fast_routes_are_the_contracts_routes(tmp_path: Path) -> None:
    """Each route the fast path serves is the FastAPI route of the same path,
    endpoint, request model, response model and status code, with nothing
    FastAPI would add that the fast path does not do: no dependency at any
    level, no response options, no handler Starlette would find otherwise
    than by the exception's class (by status code, or in a thread)."""
    app = create_app(Settings(data_dir=tmp_path))
    included = [
        route
        for route in app.routes
        if isinstance(route, _IncludedRouter) and route.original_router is auth.router
    ]
    assert [route.include_context.prefix for route in included] == ["/v1"]
    include = included[0].include_context
    assert not include.dependencies
    assert not auth.router.dependencies
    assert not app.router.dependencies
    assert include.max_body_size is None
    assert auth.router.max_body_size is None
    assert isinstance(include.default_response_class, DefaultPlaceholder)
    declared = {
        f"/v1{route.path}": route
        for route in auth.router.routes
        if isinstance(route, APIRoute) and route.endpoint in {r.endpoint for r in LOGIN_ROUTES}
    }
    assert set(declared) == {route.path for route in LOGIN_ROUTES}
    for fast in LOGIN_ROUTES:
        route = declared[fast.path]
        assert route.methods == {"POST"}
        assert route.endpoint is fast.endpoint
        assert route.body_field is not None
        assert route.body_field.field_info.annotation is fast.request_model
        assert route.response_model is fast.response_model
        assert (route.status_code or 200) == fast.status_code
        assert not route.dependant.dependencies
        assert not route.dependencies
        assert isinstance(route.response_class, DefaultPlaceholder)
        assert route.response_model_include is None
        assert route.response_model_exclude is None
        assert route.response_model_by_alias
        assert not route.response_model_exclude_unset
        assert not route.response_model_exclude_defaults
        assert not route.response_model_exclude_none
    for key, handler in app.exception_handlers.items():
        assert isinstance(key, type), key
        assert key is not Exception  # Starlette gives that one to ServerErrorMiddleware
        assert inspect.iscoroutinefunction(handler), key


async def test_the_same_requests_get_the_same_answers(make_client: ClientFactory) -> None:
    async with both(make_client) as (fast, plain, seen):
        await client.register(fast, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        requests: list[tuple[str, dict[str, Any]]] = [
            ("/v1/auth/prelogin", {"email": EMAIL}),
            ("/v1/auth/prelogin", {"email": "nobody@example.com"}),
            # Answered by the app's exception handlers, after the body was taken:
            ("/v1/auth/srp/start", {"email": EMAIL, "A": "00" * 384}),
            ("/v1/auth/srp/verify", {"handshake_id": str(uuid.uuid4()), "M1": "00" * 32}),
        ]
        for path, body in requests:
            answers = [comparable(await http.post(path, json=body)) for http in (fast, plain)]
            assert answers[0] == answers[1], path
        assert seen["/v1/auth/prelogin"] == ["fast", "fast"]
        assert seen["/v1/auth/srp/start"] == ["fast"]
        assert seen["/v1/auth/srp/verify"] == ["fast"]
        path, body = requests[0]
        assert (await fast.post(path, json=body)).headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("content_type", "content"),
    [
        ("application/json", b'{"email": "fast@example.com", "extra": 1}'),
        ("application/json", b'{"email": 7}'),
        ("application/json", b"{}"),
        ("application/json", b'["fast@example.com"]'),
        ("application/json", b'{"email": "fast@example.com"'),
        ("application/json", b"\xff\xfe"),
        ("application/json", b"[" * 100_000),
        ("application/json", b""),
        ("text/plain", b'{"email": "fast@example.com"}'),
        (None, b'{"email": "fast@example.com"}'),
    ],
)
async def test_bodies_the_fast_path_does_not_take_get_fastapis_answer(
    make_client: ClientFactory, content_type: str | None, content: bytes
) -> None:
    async with both(make_client) as (fast, plain, seen):
        headers = {"content-type": content_type} if content_type else {}
        answers = []
        for http in (fast, plain):
            request = http.build_request(
                "POST", "/v1/auth/prelogin", content=content, headers=headers
            )
            answers.append(comparable(await http.send(request)))
        assert answers[0] == answers[1]
        assert 400 <= answers[0][0] < 500
        assert seen["/v1/auth/prelogin"] == ["fastapi"]


async def test_a_body_handed_on_to_fastapi_arrives_whole(make_client: ClientFactory) -> None:
    """The fast path has read the body; FastAPI gets the same bytes replayed."""
    async with both(make_client) as (fast, plain, seen):
        body = json.dumps({"email": EMAIL}).encode()
        answers = []
        for http in (fast, plain):
            response = await http.post(
                "/v1/auth/prelogin",
                content=body,
                headers={"content-type": "application/json; charset=utf-8"},
            )
            assert response.status_code == 200
            answers.append(comparable(response))
        assert answers[0] == answers[1]
        assert seen["/v1/auth/prelogin"] == ["fastapi"]


async def test_a_login_and_a_step_up_go_through_the_fast_path(make_client: ClientFactory) -> None:
    async with both(make_client) as (fast, plain, seen):
        await client.register(fast, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        login = await client.login(fast, EMAIL, PASSWORD)
        before = login.refresh_token
        await client.reauthenticate(fast, login, EMAIL, PASSWORD)  # a bearer token sent
        assert login.refresh_token != before
        sessions = (await fast.get("/v1/account/sessions", headers=login.auth_header)).json()
        assert [one["id"] for one in sessions["sessions"]] == [str(login.session_id)]
        assert seen["/v1/auth/srp/start"] == ["fast", "fast"]
        assert seen["/v1/auth/srp/verify"] == ["fast", "fast"]
        # A bearer token that is no token: refused alike, before the proof is looked at.
        answers = []
        for http in (fast, plain):
            challenge = (
                await http.post("/v1/auth/srp/start", json={"email": EMAIL, "A": "01" * 384})
            ).json()
            verified = await http.post(
                "/v1/auth/srp/verify",
                json={"handshake_id": challenge["handshake_id"], "M1": "00" * 32},
                headers={"Authorization": "Bearer junk"},
            )
            answers.append(comparable(verified))
        assert answers[0] == answers[1]
        assert answers[0][0] == 401
        assert answers[0][2]["code"] == "invalid_token"
        assert seen["/v1/auth/srp/verify"] == ["fast", "fast", "fast"]


async def test_other_methods_and_paths_are_fastapis(make_client: ClientFactory) -> None:
    async with both(make_client) as (fast, plain, seen):
        for method, path in (
            ("GET", "/v1/auth/prelogin"),
            ("PUT", "/v1/auth/srp/start"),
            ("POST", "/v1/auth/prelogin/"),
        ):
            answers = [
                comparable(await http.request(method, path, json={"email": EMAIL}))
                for http in (fast, plain)
            ]
            assert answers[0] == answers[1], (method, path)
            assert answers[0][0] >= 300
        assert set(seen) == {"/v1/auth/prelogin", "/v1/auth/srp/start", "/v1/auth/prelogin/"}
        assert all(served == ["fastapi"] for served in seen.values())


async def test_an_error_no_handler_knows_is_the_last_resort_500(
    make_client: ClientFactory,
) -> None:
    """An exception without a handler leaves the fast path as it leaves
    FastAPI: `RequestContextMiddleware` answers the 500 with the request id.
    Here the app has lost its runtime (what the lifespan built)."""
    apps: list[FastAPI] = []
    answers = []
    for overrides in ({}, {"http": {"login_fast_path": False}}):
        async with make_client(app_hook=apps.append, **overrides) as http:
            runtime = apps[-1].state.runtime
            del apps[-1].state.runtime
            try:
                response = await http.post(
                    "/v1/auth/prelogin",
                    json={"email": EMAIL},
                    headers={"X-Request-ID": "fast-path-0001"},
                )
            finally:
                apps[-1].state.runtime = runtime
        assert response.status_code == 500
        assert response.json()["request_id"] == "fast-path-0001"
        answers.append(comparable(response))
    assert answers[0] == answers[1]


async def _asgi(app: FastAPI, messages: list[dict[str, Any]]) -> tuple[int | None, Scope]:
    """POST /v1/auth/prelogin with the body as these messages, then a disconnect."""
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/auth/prelogin",
        "raw_path": b"/v1/auth/prelogin",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"host", b"testserver")],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    pending = list(messages)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(dict(message))

    await app(scope, receive, send)
    started = [message for message in sent if message["type"] == "http.response.start"]
    return (started[0]["status"] if started else None), scope


def chunks(*bodies: bytes) -> list[dict[str, Any]]:
    return [
        {"type": "http.request", "body": body, "more_body": n < len(bodies) - 1}
        for n, body in enumerate(bodies)
    ]


@pytest.mark.parametrize(
    ("messages", "status", "named_here"),
    [
        # The client leaves halfway through the body: FastAPI's own 422, no 500.
        ([{"type": "http.request", "body": b'{"email"', "more_body": True}], 422, False),
        # Over the body limit in chunks: the body limit's 413, named after the route.
        (chunks(*[b" " * 1000] * 3, b'{"email": "a@example.com"}'), 413, True),
        # Over the fast path's own size, within the limit: FastAPI reads the rest.
        (
            chunks(b" " * (MAX_BODY_BYTES // 2), b" " * MAX_BODY_BYTES, b'{"email": "a@b.c"}'),
            200,
            False,
        ),
    ],
)
async def test_bodies_in_pieces_end_as_fastapi_ends_them(
    make_client: ClientFactory,
    caplog: pytest.LogCaptureFixture,
    messages: list[dict[str, Any]],
    status: int,
    named_here: bool,
) -> None:
    """`named_here`: whether the fast path still holds the request when it
    ends (the 413 is raised while it reads), or has handed it to FastAPI."""
    outcomes = []
    for fast_path in (True, False):
        apps: list[FastAPI] = []
        http = {"login_fast_path": fast_path, "max_body_bytes": max(2048, 2 * MAX_BODY_BYTES)}
        if status == 413:
            http["max_body_bytes"] = 2048
        async with make_client(app_hook=apps.append, http=http):
            caplog.clear()
            with caplog.at_level(logging.INFO):
                answered, scope = await _asgi(apps[0], [dict(message) for message in messages])
            errors = [record for record in caplog.records if record.name == "vaultapi.errors"]
            outcomes.append((answered, route_of(scope), len(errors), ROUTE_SCOPE_KEY in scope))
    assert outcomes[0][:3] == outcomes[1][:3] == (status, "/v1/auth/prelogin", 0)
    assert outcomes[0][3] is named_here
    assert outcomes[1][3] is False
