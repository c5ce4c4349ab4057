"""Declare a route's error responses from the error classes it can raise, so
the OpenAPI contract lists every status and `code` a client must handle."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from vaultapi.errors import ValidationFailed, VaultAPIError
from vaultapi.schemas.problem import Problem, ValidationProblem


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
    return responses
