"""Every error is RFC 9457 problem+json with a stable code, and none leaks internals."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, Field

from tests.conftest import ClientFactory
from vaultapi.errors import Conflict

PROBLEM = "application/problem+json"


class Secretish(BaseModel):
    name: str = Field(min_length=3)
    verifier: str = Field(pattern=r"^[0-9a-f]{8}$")


def add_error_routes(app: FastAPI) -> None:
    @app.post("/v1/_test/validate")
    async def validate(body: Secretish) -> dict[str, str]:
        return {"name": body.name}

    @app.get("/v1/_test/conflict")
    async def conflict() -> None:
        raise Conflict("Item changed since revision 3", extra={"current_revision": 4})

    @app.get("/v1/_test/crash")
    async def crash() -> None:
        raise RuntimeError("secret internal state: hunter2")


@pytest.fixture
async def client(make_client: ClientFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(app_hook=add_error_routes) as client:
        yield client


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert isinstance(body, dict)
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:vaultapi:problem:{code}"
    assert isinstance(body["title"], str)
    assert body["title"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


async def test_unknown_route_is_a_404_problem(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/v1/no/such/route"), 404, "not_found")
    assert body["instance"] == "/v1/no/such/route"


async def test_wrong_method_is_a_405_problem_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.delete("/healthz")
    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET"


async def test_validation_errors_are_422_problems_without_the_rejected_values(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/v1/_test/validate", json={"name": "x", "verifier": "not-hex-TOPSECRET"}
    )
    body = assert_problem(response, 422, "validation_failed")
    errors = body["errors"]
    assert isinstance(errors, list)
    assert {tuple(error["loc"]) for error in errors} == {("body", "name"), ("body", "verifier")}
    assert "TOPSECRET" not in response.text


async def test_malformed_json_is_a_422_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/_test/validate", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert_problem(response, 422, "validation_failed")


async def test_domain_errors_carry_their_extra_members(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/v1/_test/conflict"), 409, "conflict")
    assert body["detail"] == "Item changed since revision 3"
    assert body["current_revision"] == 4


async def test_unexpected_errors_are_a_bare_500_and_logged(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="vaultapi.errors"):
        response = await client.get("/v1/_test/crash")
    body = assert_problem(response, 500, "internal_error")
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    assert "RuntimeError" not in response.text
    logged = [r for r in caplog.records if r.name == "vaultapi.errors"]
    assert logged
    assert logged[0].exc_info is not None
    assert getattr(logged[0], "request_id", None) == body["request_id"]
    # security headers are on error responses too
    assert response.headers["x-content-type-options"] == "nosniff"
