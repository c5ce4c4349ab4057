"""Request ids, security headers, CORS and the request body limit."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request
from starlette.types import Message, Receive, Scope, Send

from tests.conftest import ClientFactory

LIMIT = 2048


def add_echo_route(app: FastAPI) -> None:
    @app.post("/v1/_test/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"received": len(await request.body())}


# -- request ids -------------------------------------------------------------


async def test_request_id_is_created_and_echoed(client: httpx.AsyncClient) -> None:
    first = await client.get("/healthz")
    second = await client.get("/healthz")
    assert len(first.headers["x-request-id"]) == 32
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_a_well_formed_incoming_request_id_is_kept(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "lb-2f9c1e7a-0001"})
    assert response.headers["x-request-id"] == "lb-2f9c1e7a-0001"


@pytest.mark.parametrize(
    "offered",
    ["short", "x" * 129, "has space in it", "new\\nline-injection", "<script>alert(1)</script>"],
)
async def test_a_malformed_request_id_is_replaced(client: httpx.AsyncClient, offered: str) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": offered})
    assert response.status_code == 200
    assert response.headers["x-request-id"] != offered
    assert len(response.headers["x-request-id"]) == 32


async def test_access_log_lines_carry_the_request_id(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="vaultapi.access"):
        response = await client.get("/healthz", headers={"X-Request-ID": "trace-abcdef12"})
    access = [r for r in caplog.records if r.name == "vaultapi.access"]
    assert len(access) == 1
    record = access[0]
    assert getattr(record, "request_id", None) == "trace-abcdef12"
    assert getattr(record, "status", None) == response.status_code == 200
    assert getattr(record, "path", None) == "/healthz"


# -- security headers --------------------------------------------------------


async def test_api_responses_carry_security_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/server")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "strict-transport-security" not in response.headers  # plain HTTP


async def test_hsts_only_over_tls(make_client: ClientFactory) -> None:
    async with make_client(base_url="https://vault.test") as client:
        response = await client.get("/healthz")
    assert response.headers["strict-transport-security"].startswith("max-age=63072000")


# -- CORS --------------------------------------------------------------------


async def test_cors_is_off_by_default(client: httpx.AsyncClient) -> None:
    response = await client.options(
        "/v1/server",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in response.headers
    simple = await client.get("/v1/server", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in simple.headers


async def test_cors_allows_exactly_the_configured_origins(make_client: ClientFactory) -> None:
    async with make_client(http={"cors_origins": ["https://vault.example.com/"]}) as client:
        allowed = await client.options(
            "/v1/server",
            headers={
                "Origin": "https://vault.example.com",
                "Access-Control-Request-Method": "GET",
            },
        )
        other = await client.get("/v1/server", headers={"Origin": "https://evil.example"})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://vault.example.com"
    assert "access-control-allow-origin" not in other.headers


async def test_cors_exposes_every_response_header_the_contract_documents(
    make_client: ClientFactory,
) -> None:
    """A browser client generated from the contract must be able to read the
    headers it documents (the Location of a created item, an ETag, …)."""
    from vaultapi.main import CORS_EXPOSED_HEADERS

    documented: set[str] = set()
    async with make_client(http={"cors_origins": ["https://vault.example.com"]}) as client:
        contract = (await client.get("/openapi.json")).json()
        for operations in contract["paths"].values():
            for operation in operations.values():
                for response in operation.get("responses", {}).values():
                    documented.update(name.lower() for name in response.get("headers", {}))
        simple = await client.get("/v1/server", headers={"Origin": "https://vault.example.com"})
    exposed = {
        name.strip().lower() for name in simple.headers["access-control-expose-headers"].split(",")
    }
    assert documented <= exposed, documented - exposed
    assert exposed == {name.lower() for name in CORS_EXPOSED_HEADERS}
    assert "x-request-id" in exposed


# -- body size limit ---------------------------------------------------------


@pytest.fixture
async def limited(make_client: ClientFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(app_hook=add_echo_route, http={"max_body_bytes": LIMIT}) as client:
        yield client


def assert_too_large(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "payload_too_large"
    assert body["max_body_bytes"] == LIMIT
    assert body["request_id"] == response.headers["x-request-id"]


async def test_a_body_at_the_limit_is_accepted(limited: httpx.AsyncClient) -> None:
    response = await limited.post("/v1/_test/echo", content=b"x" * LIMIT)
    assert response.status_code == 200
    assert response.json() == {"received": LIMIT}


async def test_a_declared_length_over_the_limit_is_refused_unread(
    limited: httpx.AsyncClient,
) -> None:
    chunks_read = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal chunks_read
        for _ in range(100):
            chunks_read += 1
            yield b"x" * 1024

    response = await limited.post(
        "/v1/_test/echo", content=body(), headers={"Content-Length": str(100 * 1024)}
    )
    assert_too_large(response)
    assert chunks_read <= 1  # httpx may prime the stream; the app read none of it


async def test_a_streamed_body_over_the_limit_is_cut_off(limited: httpx.AsyncClient) -> None:
    """No Content-Length (chunked): counted as it arrives, refused mid-stream."""
    chunks_read = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal chunks_read
        for _ in range(1000):
            chunks_read += 1
            yield b"x" * 1024

    response = await limited.post("/v1/_test/echo", content=body())
    assert_too_large(response)
    assert chunks_read < 10  # stopped right after crossing 2 KiB, not after 1000 KiB


@pytest.mark.parametrize("declared", ["3x", "+3", " 3", "9" * 5000])
async def test_a_malformed_content_length_is_a_400(
    limited: httpx.AsyncClient, declared: str
) -> None:
    response = await limited.post(
        "/v1/_test/echo", content=b"abc", headers={"Content-Length": declared}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"


async def test_the_default_limit_is_one_mebibyte(make_client: ClientFactory) -> None:
    async with make_client(app_hook=add_echo_route) as client:
        ok = await client.post("/v1/_test/echo", content=b"x" * (1024 * 1024))
        too_big = await client.post("/v1/_test/echo", content=b"x" * (1024 * 1024 + 1))
    assert ok.status_code == 200
    assert too_big.status_code == 413


async def test_a_non_ascii_digit_content_length_is_a_400_not_a_crash() -> None:
    """Byte 0xB3 decodes (latin-1) to '\u00b3', which `str.isdigit()` accepts and
    `int()` refuses. httpx cannot send it, a lenient server could: raw ASGI."""
    from vaultapi.middleware import BodySizeLimitMiddleware

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("the application must not be reached")

    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/x",
        "headers": [(b"content-length", b"\xb3")],
    }
    await BodySizeLimitMiddleware(app, max_body_bytes=LIMIT)(scope, receive, send)
    assert sent[0]["status"] == 400
