"""Every error is RFC 9457 problem+json with a stable code, and none leaks internals."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Literal

import httpx
import pytest
from fastapi import FastAPI
from pydantic import AfterValidator, BaseModel, Field
from sqlalchemy import text
from sqlalchemy.engine import make_url
from starlette.exceptions import HTTPException as StarletteHTTPException

from tests.conftest import ClientFactory
from tests.support import databases
from vaultapi.api.deps import SessionDep
from vaultapi.errors import Conflict

PROBLEM = "application/problem+json"


def _reject_with_value(value: str) -> str:
    raise ValueError(f"proof {value} is not acceptable")  # a careless validator


class Secretish(BaseModel):
    name: str = Field(min_length=3)
    verifier: str = Field(pattern=r"^[0-9a-f]{8}$")


class Login(BaseModel):
    kind: Literal["login"]
    username: str


class Note(BaseModel):
    kind: Literal["note"]
    text: str


class Tagged(BaseModel):
    item: Annotated[Login | Note, Field(discriminator="kind")]
    item_id: uuid.UUID
    proof: Annotated[str, AfterValidator(_reject_with_value)]


def add_error_routes(app: FastAPI) -> None:
    @app.post("/v1/_test/validate")
    async def validate(body: Secretish) -> dict[str, str]:
        return {"name": body.name}

    @app.post("/v1/_test/tagged")
    async def tagged(body: Tagged) -> dict[str, str]:
        return {"kind": body.item.kind}

    @app.get("/v1/_test/conflict")
    async def conflict() -> None:
        raise Conflict("Item changed since revision 3", extra={"current_revision": 4})

    @app.get("/v1/_test/gone")
    async def gone() -> None:
        raise StarletteHTTPException(410)

    @app.get("/v1/_test/crash")
    async def crash() -> None:
        raise RuntimeError("secret internal state: s3kr1t-internal-state")


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


async def test_instance_is_the_path_as_a_uri_reference(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/v1/a%0Ab%20c"), 404, "not_found")
    assert body["instance"] == "/v1/a%0Ab%20c"


async def test_http_statuses_without_a_class_keep_their_status(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/v1/_test/gone"), 410, "gone")
    assert body["title"] == "Gone"


async def test_a_500_still_carries_cors_headers_for_allowed_origins(
    make_client: ClientFactory,
) -> None:
    async with make_client(
        app_hook=add_error_routes, http={"cors_origins": ["https://vault.example.com"]}
    ) as client:
        response = await client.get(
            "/v1/_test/crash", headers={"Origin": "https://vault.example.com"}
        )
    assert_problem(response, 500, "internal_error")
    assert response.headers["access-control-allow-origin"] == "https://vault.example.com"


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


async def test_messages_that_would_quote_the_input_are_replaced(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/v1/_test/tagged",
        json={"item": {"kind": "SECRET-TAG"}, "item_id": "SECRET-UUID-z", "proof": "SECRET-PROOF"},
    )
    body = assert_problem(response, 422, "validation_failed")
    assert "SECRET" not in response.text
    errors = body["errors"]
    assert isinstance(errors, list)
    types = {error["type"] for error in errors}
    assert types == {"union_tag_invalid", "uuid_parsing", "value_error"}


async def test_malformed_json_is_a_422_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/_test/validate", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert_problem(response, 422, "validation_failed")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"name": "\xff\xfe\xfd"}', id="not-utf8"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="nested-too-deep"),
    ],
)
async def test_a_body_that_cannot_be_decoded_is_the_same_422_as_bad_json(
    client: httpx.AsyncClient, body: bytes
) -> None:
    """FastAPI answers these with an undocumented 400; found by the fuzzer."""
    response = await client.post(
        "/v1/_test/validate", content=body, headers={"content-type": "application/json"}
    )
    problem = assert_problem(response, 422, "validation_failed")
    assert problem["errors"] == [
        {"loc": ["body"], "msg": "The body is not valid JSON", "type": "json_invalid"}
    ]


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
    assert "s3kr1t-internal-state" not in response.text
    assert "Traceback" not in response.text
    assert "RuntimeError" not in response.text
    logged = [r for r in caplog.records if r.name == "vaultapi.errors"]
    assert logged
    assert logged[0].exc_info is not None
    assert getattr(logged[0], "request_id", None) == body["request_id"]
    # security headers are on error responses too
    assert response.headers["x-content-type-options"] == "nosniff"


SECRET_PARAMETER = "SRP-VERIFIER-0123456789abcdef"


def add_database_route(app: FastAPI) -> None:
    @app.get("/v1/_test/db")
    async def touch_database(session: SessionDep) -> dict[str, int]:
        return {"one": (await session.execute(text("SELECT 1"))).scalar_one()}

    @app.get("/v1/_test/sql-bug")
    async def sql_bug(session: SessionDep) -> None:
        await session.execute(
            text("SELECT :verifier FROM no_such_table"), {"verifier": SECRET_PARAMETER}
        )

    @app.get("/v1/_test/own-timeout")
    async def own_timeout() -> None:
        async with asyncio.timeout(0.001):
            await asyncio.sleep(1)


def outage_urls() -> dict[str, str]:
    """Databases that cannot serve us, each failing differently at connect time."""
    server = databases.admin_url()
    return {
        "refused": "postgresql://postgres@127.0.0.1:9/none",
        "no_such_database": databases.with_database(server, "vaultapi_does_not_exist"),
        "no_such_role": make_url(server).set(username="no_such_role").render_as_string(False),
    }


@pytest.mark.parametrize("outage", ["refused", "no_such_database", "no_such_role"])
async def test_a_database_outage_is_a_503_problem_not_a_500(
    make_postgresql_client: ClientFactory, outage: str
) -> None:
    async with make_postgresql_client(
        app_hook=add_database_route,
        database_url=outage_urls()[outage],
        database={"connect_timeout_seconds": 1},
    ) as client:
        response = await client.get("/v1/_test/db")
        ready = await client.get("/readyz")
    body = assert_problem(response, 503, "database_unavailable")
    assert response.headers["retry-after"] == "5"
    assert "127.0.0.1" not in response.text
    assert body["detail"] == "The database cannot be reached; retry later"
    ready_body = assert_problem(ready, 503, "not_ready")
    assert ready_body["detail"] == "The database cannot be reached"
    assert "127.0.0.1" not in ready.text


@pytest.mark.parametrize("outage", ["refused", "no_such_database"])
async def test_the_direct_database_paths_answer_an_outage_with_503_too(
    make_postgresql_client: ClientFactory, outage: str
) -> None:
    """Login and prelogin bypass the ORM session (`vaultapi.db.direct`): an
    unreachable database is still a 503 problem there, for reads and writes."""
    from vaultapi.crypto import srp

    public_a = srp.encode_int(srp.client_start().public_A)
    async with make_postgresql_client(
        database_url=outage_urls()[outage], database={"connect_timeout_seconds": 1}
    ) as client:
        prelogin = await client.post("/v1/auth/prelogin", json={"email": "a@example.com"})
        start = await client.post(
            "/v1/auth/srp/start", json={"email": "a@example.com", "A": public_a}
        )
    for response in (prelogin, start):
        body = assert_problem(response, 503, "database_unavailable")
        assert body["detail"] == "The database cannot be reached; retry later"


async def test_a_bug_in_our_sql_is_a_500_and_its_parameters_are_not_logged(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    async with make_client(app_hook=add_database_route) as client:
        with caplog.at_level(logging.DEBUG):
            response = await client.get("/v1/_test/sql-bug")
    assert_problem(response, 500, "internal_error")
    assert "no_such_table" in caplog.text  # the error itself is logged, with its SQL
    assert SECRET_PARAMETER not in caplog.text
    assert SECRET_PARAMETER not in response.text


async def test_a_timeout_that_is_not_the_database_is_not_blamed_on_it(
    make_client: ClientFactory,
) -> None:
    async with make_client(app_hook=add_database_route) as client:
        response = await client.get("/v1/_test/own-timeout")
    assert_problem(response, 500, "internal_error")


async def test_the_database_route_works_when_the_database_does(
    make_client: ClientFactory,
) -> None:
    """Control for the outage test: the same route answers 200 on a live database."""
    async with make_client(app_hook=add_database_route) as client:
        response = await client.get("/v1/_test/db")
    assert response.status_code == 200
    assert response.json() == {"one": 1}
