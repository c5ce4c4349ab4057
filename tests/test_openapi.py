"""The committed contract is the app's contract, valid, and errors are problem+json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from openapi_spec_validator import validate
from pydantic import BaseModel

from vaultapi.main import create_app
from vaultapi.openapi import render_openapi

COMMITTED = Path(__file__).parent.parent / "openapi" / "openapi.json"
REGENERATE = "make openapi"


class Body(BaseModel):
    name: str


def test_committed_openapi_matches_the_app() -> None:
    current = render_openapi(create_app())
    committed = COMMITTED.read_text()
    assert json.loads(committed) == json.loads(current), (
        f"openapi/openapi.json is stale: run `{REGENERATE}` and commit the result"
    )
    assert committed == current, f"openapi/openapi.json is not in canonical form: `{REGENERATE}`"


def test_the_document_is_valid_openapi() -> None:
    validate(json.loads(COMMITTED.read_text()))


def _operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [op for item in document["paths"].values() for op in item.values()]


def test_every_operation_has_an_id_summary_and_tag() -> None:
    document = json.loads(COMMITTED.read_text())
    operations = _operations(document)
    ids = [op.get("operationId") for op in operations]
    assert all(ids)
    assert len(set(ids)) == len(ids)
    assert all(op.get("summary") and op.get("tags") for op in operations)


def test_error_responses_are_documented_as_problem_json() -> None:
    document = json.loads(COMMITTED.read_text())
    for operation in _operations(document):
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")) and "content" in response:
                assert list(response["content"]) == ["application/problem+json"], (
                    operation["operationId"],
                    status,
                )
    assert "HTTPValidationError" not in json.dumps(document)


def test_api_routes_are_versioned_and_probes_are_not() -> None:
    document = json.loads(COMMITTED.read_text())
    for path in document["paths"]:
        unversioned = ("/healthz", "/readyz", "/.well-known/jwks.json")
        assert path in unversioned or path.startswith("/v1/"), path


def test_validation_errors_are_documented_as_validation_problems() -> None:
    """Routes with a body (later issues) get the 422 problem schema, not FastAPI's."""
    app = create_app()

    @app.post("/v1/_test/things", operation_id="createThing", summary="Create", tags=["t"])
    async def create(body: Body) -> Body:
        return body

    document = app.openapi()
    validate(document)
    response = document["paths"]["/v1/_test/things"]["post"]["responses"]["422"]
    assert response["content"] == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/ValidationProblem"}}
    }
    schemas = document["components"]["schemas"]
    assert {"ValidationProblem", "FieldError"} <= set(schemas)
    assert "HTTPValidationError" not in schemas


def test_only_the_login_proof_takes_an_optional_token() -> None:
    """`srp/verify` logs in without a token and re-authenticates a session with
    one: its security lists the empty requirement too, so Swagger UI and generated
    clients do not demand a token for a login. Every other secured route requires one."""
    document = json.loads(COMMITTED.read_text())
    optional = {op["operationId"] for op in _operations(document) if {} in op.get("security", [])}
    assert optional == {"finishLogin"}
