"""The problem+json bodies (RFC 9457) every error response uses."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Problem(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "urn:vaultapi:problem:not_found",
                    "title": "Not found",
                    "status": 404,
                    "code": "not_found",
                    "detail": "No route matches GET /v1/nothing",
                    "instance": "/v1/nothing",
                    "request_id": "5b0c6f3e9a7d4c21b8e0f1a2c3d4e5f6",
                }
            ]
        },
    )

    type: str = Field(description="URI naming the problem type: `urn:vaultapi:problem:<code>`")
    title: str = Field(description="Short summary of the problem type")
    status: int = Field(description="HTTP status code")
    code: str = Field(description="Stable machine-readable error code; branch on this")
    detail: str | None = Field(default=None, description="What went wrong in this instance")
    instance: str | None = Field(default=None, description="Path of the request")
    request_id: str | None = Field(default=None, description="Quote it when reporting a problem")


class FieldError(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"loc": ["body", "email"], "msg": "Field required", "type": "missing"}]
        }
    )

    loc: list[str | int] = Field(description="Where the error is: `body`, `query`, … then the path")
    msg: str
    type: str


class ValidationProblem(Problem):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "urn:vaultapi:problem:validation_failed",
                    "title": "Request validation failed",
                    "status": 422,
                    "code": "validation_failed",
                    "detail": "The request does not match the schema",
                    "instance": "/v1/auth/prelogin",
                    "request_id": "5b0c6f3e9a7d4c21b8e0f1a2c3d4e5f6",
                    "errors": [
                        {"loc": ["body", "email"], "msg": "Field required", "type": "missing"}
                    ],
                }
            ]
        }
    )

    errors: list[FieldError]
