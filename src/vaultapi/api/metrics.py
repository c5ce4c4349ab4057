"""`GET /metrics` (Prometheus text format), when `metrics.mode` is `token`.
Outside the OpenAPI contract: it is for the operator's scraper, not clients."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response

from vaultapi.api.deps import SettingsDep
from vaultapi.errors import Unauthorized
from vaultapi.metrics import exposition, token_matches

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
async def metrics(
    settings: SettingsDep, authorization: Annotated[str | None, Header()] = None
) -> Response:
    expected = settings.metrics.token
    if expected is None or not token_matches(authorization, expected.get_secret_value()):
        raise Unauthorized(
            "Send the metrics token: `Authorization: Bearer <VAULTAPI_METRICS__TOKEN>`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    body, content_type = exposition()
    return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})
