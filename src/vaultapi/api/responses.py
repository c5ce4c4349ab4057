"""Declare a route's responses: the error responses from the error classes it
can raise, so the OpenAPI contract lists every status and `code` a client must
handle, and the headers a response carries (`ETag`, `Location`,
`Retry-After`, ...), so a client knows what to read without trying.

Headers every response carries (`X-Request-ID`, `Cache-Control` and the
security headers) are described once, in the API description, not here.
`tests/test_openapi_headers.py` checks both ways against real responses."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from vaultapi.errors import InvalidToken, Unauthorized, ValidationFailed, VaultAPIError
from vaultapi.schemas.problem import Problem, ValidationProblem

Headers = dict[str, dict[str, Any]]


def _header(description: str, example: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description, "schema": schema or {"type": "string"}, "example": example}


ETAG: Headers = {
    "ETag": _header(
        "The object's `revision` in quotes: send it as `If-Match` to change the object",
        '"3"',
    )
}
SYNC_ETAG: Headers = {
    "ETag": _header(
        "The vault `revision` in quotes: send it as `If-None-Match` to get 304 when "
        "nothing changed",
        '"42"',
    )
}
LOCATION: Headers = {
    "Location": _header(
        "Path of the created object", "/v1/vault/items/1f0e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
    )
}
SHARE_LOCATION: Headers = {
    "Location": _header(
        "Path of the created share", "/v1/shares/4c3b2a19-0807-4f6e-ad5c-4b3a29180706"
    )
}
CONTENT_DISPOSITION: Headers = {
    "Content-Disposition": _header("Suggested file name", 'attachment; filename="auth-events.csv"')
}
RETRY_AFTER: Headers = {
    "Retry-After": _header(
        "Seconds to wait before trying again", "30", {"type": "string", "pattern": "^[0-9]+$"}
    )
}
WWW_AUTHENTICATE: Headers = {
    "WWW-Authenticate": _header(
        "The bearer challenge, when the access token is missing, invalid or expired",
        'Bearer error="invalid_token"',
    )
}


def with_headers(status: int, *headers: Headers) -> dict[int | str, dict[str, Any]]:
    """The success response `status` documented with `headers` (FastAPI merges
    it with the route's response model)."""
    merged: Headers = {}
    for header in headers:
        merged.update(header)
    return {status: {"headers": merged}}


def _problem_headers(status: int, classes: list[type[VaultAPIError]]) -> Headers:
    if status in (429, 503):
        return RETRY_AFTER
    if status == 401 and any(cls in (Unauthorized, InvalidToken) for cls in classes):
        return WWW_AUTHENTICATE
    return {}


def problem_responses(*errors: type[VaultAPIError]) -> dict[int | str, dict[str, Any]]:
    by_status: dict[int, list[type[VaultAPIError]]] = defaultdict(list)
    for error in errors:
        by_status[error.status].append(error)
    responses: dict[int | str, dict[str, Any]] = {}
    for status, classes in sorted(by_status.items()):
        codes = ", ".join(f"`{cls.code}`" for cls in classes)
        model = ValidationProblem if any(c is ValidationFailed for c in classes) else Problem
        responses[status] = {
            "model": model,
            "description": f"{classes[0].title} (code: {codes})",
        }
        if headers := _problem_headers(status, classes):
            responses[status]["headers"] = headers
    return responses
