"""The OpenAPI document: FastAPI's output, adjusted to tell the truth.

FastAPI documents validation errors as `application/json` with its own
`HTTPValidationError` model; this server answers every error, validation
included, with `application/problem+json` bodies (`Problem`,
`ValidationProblem`). The adjustment happens here, once, so the committed
`openapi/openapi.json` and generated clients match what the server sends.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from vaultapi.errors import PROBLEM_MEDIA_TYPE, ValidationFailed

_REF_PREFIX = "#/components/schemas/"


def _problem_content(content: dict[str, Any]) -> dict[str, Any]:
    json_content = content.get("application/json")
    if json_content is None:
        return content
    return {PROBLEM_MEDIA_TYPE: json_content}


def build_openapi(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
        servers=app.servers,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            for status, response in operation.get("responses", {}).items():
                if status == "422":
                    response["description"] = (
                        f"{ValidationFailed.title} (code: `validation_failed`)"
                    )
                    response["content"] = {
                        PROBLEM_MEDIA_TYPE: {"schema": {"$ref": _REF_PREFIX + "ValidationProblem"}}
                    }
                elif status[0] in "45" and "content" in response:
                    response["content"] = _problem_content(response["content"])
    uses_validation = any(
        "422" in operation.get("responses", {})
        for path_item in schema.get("paths", {}).values()
        for operation in path_item.values()
    )
    _restore_examples(components)
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    if uses_validation:
        from vaultapi.schemas.problem import ValidationProblem

        for name, definition in _model_schemas(ValidationProblem).items():
            components.setdefault(name, definition)
    return schema


def _schema_models() -> dict[str, type[BaseModel]]:
    """Our request and response models by name (the component names FastAPI uses)."""
    import vaultapi.schemas

    found: dict[str, type[BaseModel]] = {}
    pending = list(BaseModel.__subclasses__())
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        if model.__module__.startswith(vaultapi.schemas.__name__ + "."):
            found[model.__name__] = model
    return found


def _restore_examples(components: dict[str, Any]) -> None:
    """Put back the `null`s of the models' examples.

    FastAPI serializes the document with `exclude_none`, which also drops the
    null members of examples, so an example of a required nullable field
    (`deleted_at: null`) would no longer match its own schema."""
    models = _schema_models()
    for name, schema in components.items():
        model = models.get(name)
        extra = model.model_config.get("json_schema_extra") if model else None
        if isinstance(extra, dict) and "examples" in extra and "examples" in schema:
            schema["examples"] = extra["examples"]


def _model_schemas(model: Any) -> dict[str, Any]:
    """JSON schemas of a pydantic model and the models it references."""
    from pydantic.json_schema import models_json_schema

    _, definitions = models_json_schema(
        [(model, "validation")], ref_template=_REF_PREFIX + "{model}"
    )
    result: dict[str, Any] = definitions.get("$defs", {})
    return result


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def render_openapi(app: FastAPI) -> str:
    """The committed form of the document: stable key order, trailing newline."""
    return json.dumps(app.openapi(), indent=2, ensure_ascii=False) + "\n"
