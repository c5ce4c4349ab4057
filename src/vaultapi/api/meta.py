"""Liveness, readiness and server information.

`/healthz` and `/readyz` live outside `/v1`: load balancers and orchestrators
probe them, and they do not change with the API version.
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from vaultapi import API_VERSION, __version__
from vaultapi.api.deps import RuntimeDep
from vaultapi.api.responses import problem_responses
from vaultapi.crypto.tokens import jwks
from vaultapi.db.migrate import current_revisions
from vaultapi.errors import DatabaseUnreachable, NotReady
from vaultapi.schemas.auth import JWKS
from vaultapi.schemas.meta import Health, Readiness, ServerInfo, ServerLimits

log = logging.getLogger(__name__)

probes = APIRouter(tags=["meta"])
router = APIRouter(tags=["meta"])

PROTOCOL_SUITES = ["v1"]


@probes.get("/healthz", operation_id="getHealth", summary="Liveness: the process answers")
async def healthz() -> Health:
    return Health()


@probes.get(
    "/readyz",
    operation_id="getReadiness",
    summary="Readiness: the database answers and its schema is at the latest migration",
    responses=problem_responses(NotReady),
)
async def readyz(runtime: RuntimeDep) -> Readiness:
    timeout = runtime.settings.database.ready_timeout_seconds
    try:
        current = await asyncio.wait_for(current_revisions(runtime.engine), timeout)
    except (DatabaseUnreachable, DBAPIError, PoolTimeoutError, TimeoutError) as exc:
        # Any database failure means "do not send traffic here"; the log says which.
        log.warning("not ready: %s: %s", type(exc).__name__, exc)
        raise NotReady("The database cannot be reached", headers={"Retry-After": "5"}) from exc
    if current != runtime.schema_heads:
        raise NotReady(
            f"The database schema is at {sorted(current) or 'no revision'}, not at "
            f"{sorted(runtime.schema_heads)}: run `vaultapi db upgrade`",
            headers={"Retry-After": "5"},
        )
    return Readiness(schema_revision=",".join(sorted(current)))


@probes.get(
    "/.well-known/jwks.json",
    operation_id="getJwks",
    summary="Public keys that verify access tokens (empty with HS256)",
)
async def get_jwks(runtime: RuntimeDep) -> JWKS:
    return JWKS(**jwks(runtime.token_keys))


@router.get(
    "/server",
    operation_id="getServerInfo",
    summary="Server version, API version, accepted crypto suites and limits",
)
async def server_info(runtime: RuntimeDep) -> ServerInfo:
    settings = runtime.settings
    return ServerInfo(
        version=__version__,
        api_version=API_VERSION,
        protocol_suites=PROTOCOL_SUITES,
        limits=ServerLimits(
            max_body_bytes=settings.http.max_body_bytes,
            max_item_bytes=settings.vault.max_item_bytes,
            max_items=settings.vault.max_items,
            import_max_items=settings.vault.import_max_items,
            max_share_secret_chars=settings.shares.max_secret_chars,
            max_share_ttl_minutes=settings.shares.max_ttl_minutes,
            max_share_views=settings.shares.max_views,
        ),
    )
