"""Every schema in the contract shows an example, and every example is true.

Swagger UI, ReDoc and generated SDKs show these examples to people writing a
client; an example that does not match its own schema (a missing required
field, a wrong format) teaches them the wrong request. So each example is
validated against its schema, and the crypto-shaped ones (EncStrings, SRP
group elements) against the same checks the server applies.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from vaultapi.crypto import encstring, srp

DOCUMENT = json.loads(
    (Path(__file__).parent.parent / "openapi" / "openapi.json").read_text(encoding="utf-8")
)
SCHEMAS: dict[str, Any] = DOCUMENT["components"]["schemas"]
REF = "#/components/schemas/"
SRP_ELEMENT_FIELDS = ("A", "B", "verifier")


def _examples(holder: dict[str, Any]) -> list[Any]:
    found = list(holder.get("examples", []))
    if "example" in holder:
        found.append(holder["example"])
    return found


def _is_enum(schema: dict[str, Any]) -> bool:
    """An enum schema lists its values: it is its own example."""
    return "enum" in schema and "properties" not in schema


def _variants(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, schema) of each non-null alternative a body may take."""
    for option in schema.get("anyOf", [schema]):
        if "$ref" in option:
            name = option["$ref"].removeprefix(REF)
            yield name, SCHEMAS[name]
        elif option.get("type") != "null":
            yield "(inline)", option


def _bodies() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(where, media type, media object) of every request body and 2xx response body."""
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            for media_type, media in operation.get("requestBody", {}).get("content", {}).items():
                yield f"{where} request", media_type, media
            for status, response in operation["responses"].items():
                if status.startswith("2"):
                    for media_type, media in response.get("content", {}).items():
                        yield f"{where} {status}", media_type, media


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    """A validator that resolves `#/components/schemas/...` against the document."""
    return Draft202012Validator(
        {**schema, "components": DOCUMENT["components"]}, format_checker=FormatChecker()
    )


def _strings(value: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """(member name, string) of every string inside a JSON value."""
    if isinstance(value, str):
        yield key, value
    elif isinstance(value, dict):
        for name, member in value.items():
            yield from _strings(member, name)
    elif isinstance(value, list):
        for member in value:
            yield from _strings(member, key)


def test_every_request_and_success_body_has_an_example() -> None:
    missing = []
    for where, media_type, media in _bodies():
        if _examples(media):
            continue
        for name, schema in _variants(media["schema"]):
            if not _examples(schema) and not _is_enum(schema):
                missing.append(f"{where} ({media_type}): {name}")
    assert missing == []


def test_every_component_schema_has_an_example() -> None:
    """Nested schemas too: Swagger UI shows each one under "Schemas"."""
    missing = [
        name for name, schema in SCHEMAS.items() if not _examples(schema) and not _is_enum(schema)
    ]
    assert missing == []


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_component_examples_match_their_schema(name: str) -> None:
    validator = _validator({"$ref": REF + name})
    for example in _examples(SCHEMAS[name]):
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(example)]
        assert errors == [], f"the example of {name} does not match it"


def test_media_type_examples_match_their_schema() -> None:
    checked = 0
    for where, _, media in _bodies():
        for example in _examples(media):
            validator = _validator(media["schema"])
            assert list(validator.iter_errors(example)) == [], where
            checked += 1
    assert checked, "no media-type example at all: the CSV export should have one"


def test_crypto_values_in_examples_have_the_shapes_the_server_checks() -> None:
    """EncStrings are well-formed suite-v1 EncStrings and SRP group elements are
    in range: what a client copies from the docs passes the server's checks."""
    encstrings = elements = 0
    for schema in SCHEMAS.values():
        for example in _examples(schema):
            for key, value in _strings(example):
                if value.startswith(f"{encstring.VERSION}."):
                    encstring.check_shape(value, max_length=65_536)
                    encstrings += 1
                if key in SRP_ELEMENT_FIELDS:
                    srp.parse_group_element(value, name=key)
                    elements += 1
    assert encstrings >= 5
    assert elements >= 3


def test_the_checks_catch_a_wrong_example() -> None:
    """Guard the guard: a missing required field and a malformed UUID fail."""
    validator = _validator({"$ref": REF + "Item"})
    item = dict(SCHEMAS["Item"]["examples"][0])
    assert list(validator.iter_errors(item)) == []
    assert list(validator.iter_errors({**item, "id": "not-a-uuid"}))
    del item["revision"]
    assert list(validator.iter_errors(item))
