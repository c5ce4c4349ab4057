"""The API versioning policy (docs/api-versioning.md): within /v1 the current
contract may only grow, compared with the released one."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from vaultapi import API_VERSION
from vaultapi.contract import breaking_changes

ROOT = Path(__file__).resolve().parent.parent
RELEASED = ROOT / "openapi" / "released" / f"v{API_VERSION}.json"
CURRENT = ROOT / "openapi" / "openapi.json"


def test_the_current_contract_keeps_every_promise_of_the_released_one() -> None:
    """Fails on a removed operation or response field, a newly required request
    field or parameter, a changed type: bump the API version (a new /v2
    prefix) instead, as docs/api-versioning.md says."""
    assert RELEASED.exists(), f"no released contract for API version {API_VERSION}"
    released = json.loads(RELEASED.read_text())
    current = json.loads(CURRENT.read_text())
    assert breaking_changes(released, current) == []


def _document() -> dict[str, Any]:
    return {
        "paths": {
            "/v1/items/{item_id}": {
                "get": {
                    "parameters": [
                        {
                            "in": "path",
                            "name": "item_id",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                        {
                            "in": "query",
                            "name": "deep",
                            "required": False,
                            "schema": {"type": "boolean"},
                        },
                    ],
                    "responses": {
                        "200": {
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Item"}
                                }
                            }
                        }
                    },
                },
                "put": {
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/ItemIn"}}
                        },
                    },
                    "responses": {"204": {"description": "done"}},
                },
            }
        },
        "components": {
            "schemas": {
                "Item": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "revision": {"type": "integer"},
                        "tags": {"type": "array", "items": {"$ref": "#/components/schemas/Tag"}},
                    },
                },
                "Tag": {"type": "object", "properties": {"name": {"type": "string"}}},
                "ItemIn": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["data"],
                    "properties": {
                        "data": {"type": "string"},
                        "kind": {"type": "string", "enum": ["login", "note"]},
                        "favorite": {"type": "boolean"},
                    },
                },
            }
        },
    }


def _changed(edit: Any) -> list[str]:
    current = copy.deepcopy(_document())
    edit(current)
    return breaking_changes(_document(), current)


def test_an_unchanged_or_grown_document_is_compatible() -> None:
    def grow(doc: dict[str, Any]) -> None:
        schemas = doc["components"]["schemas"]
        schemas["Item"]["properties"]["extra"] = {"type": "string"}
        schemas["ItemIn"]["properties"]["optional"] = {"type": "string"}
        schemas["ItemIn"]["properties"]["kind"]["enum"].append("card")
        doc["paths"]["/v1/other"] = {"get": {"responses": {"200": {"description": "x"}}}}

    assert breaking_changes(_document(), _document()) == []
    assert _changed(grow) == []


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d["paths"]["/v1/items/{item_id}"].pop("put"), "operation removed"),
        (
            lambda d: d["components"]["schemas"]["Item"]["properties"].pop("revision"),
            "revision: removed from the response",
        ),
        (
            lambda d: d["components"]["schemas"]["Tag"]["properties"].pop("name"),
            "tags[].name: removed from the response",
        ),
        (
            lambda d: d["components"]["schemas"]["Item"]["properties"].update(
                revision={"type": "string"}
            ),
            "revision: type changed",
        ),
        (
            lambda d: d["components"]["schemas"]["ItemIn"]["required"].append("favorite"),
            "favorite: newly required in the request",
        ),
        (
            lambda d: d["components"]["schemas"]["ItemIn"]["properties"]["kind"]["enum"].remove(
                "note"
            ),
            "enum values removed: ['note']",
        ),
        (
            lambda d: d["components"]["schemas"]["ItemIn"]["properties"].pop("favorite"),
            "favorite: no longer accepted in the request",
        ),
        (
            lambda d: d["paths"]["/v1/items/{item_id}"]["get"]["parameters"][1].update(
                required=True
            ),
            "parameter deep is now required",
        ),
        (
            lambda d: d["paths"]["/v1/items/{item_id}"]["get"]["responses"].pop("200"),
            "response 200 removed",
        ),
    ],
)
def test_each_kind_of_breaking_change_is_caught(edit: Any, expected: str) -> None:
    problems = _changed(edit)
    assert any(expected in problem for problem in problems), problems
