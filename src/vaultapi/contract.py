"""Breaking changes between two OpenAPI documents of the same API version.

`docs/api-versioning.md` is the policy this checks: within one API version
(`/v1`), a client generated from the released document must keep working.
So, compared with the released document, the current one must not:

- remove an operation, or a 2xx response of one;
- remove a property from a response body, or change its type;
- add a required request property, or make an optional parameter required,
  or add a required parameter;
- change the type of a request property or parameter, or remove a value from
  a request enum (what a client may send).

Adding operations, optional request fields, response fields and response
enum values is allowed: clients must ignore unknown fields and tolerate
unknown enum values (the item `type` is an enum that grows).
"""

from __future__ import annotations

from typing import Any

Document = dict[str, Any]
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def _resolve(document: Document, schema: dict[str, Any] | None) -> dict[str, Any]:
    seen = 0
    while schema and "$ref" in schema and seen < 32:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document.get("components", {}).get("schemas", {}).get(name, {})
        seen += 1
    return schema or {}


def _variants(document: Document, schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The object schemas a value may match (anyOf/oneOf flattened, null dropped)."""
    schema = _resolve(document, schema)
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        found: list[dict[str, Any]] = []
        for option in options:
            found.extend(_variants(document, option))
        return found
    return [] if schema.get("type") == "null" else [schema]


def _type_of(document: Document, schema: dict[str, Any]) -> frozenset[str]:
    return frozenset(str(v.get("type", "any")) for v in _variants(document, schema)) or frozenset(
        {"any"}
    )


def _compare_response(
    old_doc: Document,
    new_doc: Document,
    old: dict[str, Any],
    new: dict[str, Any],
    where: str,
    problems: list[str],
    depth: int = 0,
) -> None:
    if depth > 12:
        return
    old_types, new_types = _type_of(old_doc, old), _type_of(new_doc, new)
    if "any" not in old_types and "any" not in new_types and not new_types <= old_types:
        problems.append(f"{where}: type changed from {sorted(old_types)} to {sorted(new_types)}")
        return
    old_objects = [v for v in _variants(old_doc, old) if "properties" in v]
    new_objects = [v for v in _variants(new_doc, new) if "properties" in v]
    if old_objects and new_objects:
        old_props, new_props = old_objects[0]["properties"], new_objects[0]["properties"]
        for name, old_prop in old_props.items():
            if name not in new_props:
                problems.append(f"{where}.{name}: removed from the response")
                continue
            _compare_response(
                old_doc, new_doc, old_prop, new_props[name], f"{where}.{name}", problems, depth + 1
            )
    old_items = _resolve(old_doc, old).get("items")
    new_items = _resolve(new_doc, new).get("items")
    if old_items and new_items:
        _compare_response(old_doc, new_doc, old_items, new_items, f"{where}[]", problems, depth + 1)


def _compare_request(
    old_doc: Document,
    new_doc: Document,
    old: dict[str, Any],
    new: dict[str, Any],
    where: str,
    problems: list[str],
    depth: int = 0,
) -> None:
    if depth > 12:
        return
    old_types, new_types = _type_of(old_doc, old), _type_of(new_doc, new)
    if "any" not in old_types and "any" not in new_types and not old_types <= new_types:
        problems.append(f"{where}: type changed from {sorted(old_types)} to {sorted(new_types)}")
        return
    old_enum = set(_resolve(old_doc, old).get("enum", []))
    new_enum = set(_resolve(new_doc, new).get("enum", old_enum))
    if old_enum - new_enum:
        problems.append(f"{where}: enum values removed: {sorted(map(str, old_enum - new_enum))}")
    old_objects = [v for v in _variants(old_doc, old) if "properties" in v]
    new_objects = [v for v in _variants(new_doc, new) if "properties" in v]
    if old_objects and new_objects:
        old_obj, new_obj = old_objects[0], new_objects[0]
        added = set(new_obj.get("required", [])) - set(old_obj.get("required", []))
        for name in sorted(added):
            problems.append(f"{where}.{name}: newly required in the request")
        for name, old_prop in old_obj["properties"].items():
            if name in new_obj["properties"]:
                _compare_request(
                    old_doc,
                    new_doc,
                    old_prop,
                    new_obj["properties"][name],
                    f"{where}.{name}",
                    problems,
                    depth + 1,
                )
            elif new_obj.get("additionalProperties") is False:
                problems.append(f"{where}.{name}: no longer accepted in the request")


def _json_schema(body: dict[str, Any] | None) -> dict[str, Any] | None:
    if not body:
        return None
    content = body.get("content", {})
    for media_type in ("application/json", *content):
        if media_type in content:
            schema: dict[str, Any] | None = content[media_type].get("schema")
            return schema
    return None


def breaking_changes(released: Document, current: Document) -> list[str]:
    """What a client generated from `released` would trip over in `current`."""
    problems: list[str] = []
    for path, old_item in released.get("paths", {}).items():
        new_item = current.get("paths", {}).get(path, {})
        for method in METHODS:
            if method not in old_item:
                continue
            operation = f"{method.upper()} {path}"
            if method not in new_item:
                problems.append(f"{operation}: operation removed")
                continue
            old_op, new_op = old_item[method], new_item[method]
            old_params = {(p["in"], p["name"]): p for p in old_op.get("parameters", [])}
            for param in new_op.get("parameters", []):
                key = (param["in"], param["name"])
                was = old_params.get(key)
                if param.get("required") and (was is None or not was.get("required")):
                    problems.append(f"{operation}: parameter {param['name']} is now required")
                if was is not None:
                    _compare_request(
                        released,
                        current,
                        was.get("schema", {}),
                        param.get("schema", {}),
                        f"{operation} parameter {param['name']}",
                        problems,
                    )
            old_body, new_body = (
                _json_schema(old_op.get("requestBody")),
                _json_schema(new_op.get("requestBody")),
            )
            if old_body is None and new_body is not None and new_op["requestBody"].get("required"):
                problems.append(f"{operation}: now requires a request body")
            elif old_body is not None and new_body is not None:
                _compare_request(
                    released, current, old_body, new_body, f"{operation} body", problems
                )
            for status, old_response in old_op.get("responses", {}).items():
                if not str(status).startswith("2"):
                    continue
                new_response = new_op.get("responses", {}).get(status)
                if new_response is None:
                    problems.append(f"{operation}: response {status} removed")
                    continue
                old_schema = _json_schema(old_response)
                new_schema = _json_schema(new_response)
                if old_schema is not None and new_schema is not None:
                    _compare_response(
                        released,
                        current,
                        old_schema,
                        new_schema,
                        f"{operation} {status}",
                        problems,
                    )
    return problems
