"""Application factory.

`create_app()` does no I/O: it can build the app (and its OpenAPI document)
without a database or secrets. The lifespan does the start-up work: resolve
the server keys (refusing a production start without them), open the
database, migrate it when configured to, and check its schema revision.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from vaultapi import API_VERSION, __version__
from vaultapi.api import (
    account,
    admin,
    auth,
    docs,
    meta,
    mfa,
    shares,
    vault,
    webauthn_test_page,
)
from vaultapi.api import metrics as metrics_api
from vaultapi.api.login_fast_path import LoginFastPath
from vaultapi.config import Settings
from vaultapi.crypto import srp
from vaultapi.db import migrate
from vaultapi.db.engine import create_engine, create_sessionmaker
from vaultapi.errors import ConfigurationError, install_error_handlers
from vaultapi.logs import configure_logging
from vaultapi.metrics import MetricsMiddleware, serve_on_port, watch_pool
from vaultapi.middleware import BodySizeLimitMiddleware, DrainMiddleware, RequestContextMiddleware
from vaultapi.openapi import install_openapi
from vaultapi.proxies import ForwardedHeadersMiddleware
from vaultapi.runtime import Runtime, token_keys_from
from vaultapi.server_keys import load_server_keys
from vaultapi.services.fakes import prepare_fakes
from vaultapi.services.maintenance import run_periodically
from vaultapi.shutdown import Drain
from vaultapi.storage import prepare_database_storage

log = logging.getLogger(__name__)

DESCRIPTION = """\
Zero-knowledge password-manager API. The master password never leaves the
client: accounts log in with SRP-6a, and the vault holds only client-encrypted
ciphertext. Every error is an RFC 9457 `application/problem+json` body with a
stable `code`.

Every response carries `X-Request-ID` (quote it when reporting a problem; a
client may send its own), `Cache-Control: no-store` and the security headers
(`X-Content-Type-Options`, `X-Frame-Options`, `Referrer-Policy`,
`Content-Security-Policy`, ...). Any request may also get 413 (body too large)
or, while a server shuts down, 503 with `Retry-After`. Other headers are
documented on the responses that carry them: `ETag` (items, folders, sync),
`Location` (created items and shares), `Retry-After` (429), `WWW-Authenticate`
(401 for a missing or bad token).
"""


def check_startable(settings: Settings) -> None:
    """Raise `ConfigurationError` listing everything that keeps these settings
    from starting a server. Also called by `vaultapi serve` before it forks."""
    if settings.is_production:
        problems = settings.production_problems()
        if problems:
            raise ConfigurationError(problems)
    settings.effective_database_url()  # validates the URL's scheme and driver


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    configure_logging(settings.log)
    try:
        check_startable(settings)
        keys = load_server_keys(settings)
        if settings.is_production:
            for warning in settings.production_warnings():
                log.warning(warning)
    except ConfigurationError as exc:
        log.critical(exc.render())
        raise
    url = settings.effective_database_url()
    prepare_database_storage(settings)
    if settings.database_url is None:
        log.warning("using the embedded SQLite database %s", settings.embedded_database_path)
    engine = create_engine(url, settings.database)
    try:
        if settings.auto_migrate:
            await migrate.upgrade(engine)
        app.state.runtime = Runtime(
            settings=settings,
            keys=keys,
            engine=engine,
            sessionmaker=create_sessionmaker(engine),
            schema_heads=migrate.head_revisions(),
            token_keys=token_keys_from(keys),
        )
        srp.prepare()  # the first login does not wait for the table of powers of g
        prepare_fakes(keys.server_secret)  # nor the first unknown e-mail for the fake's powers
        if settings.metrics.mode != "off":
            watch_pool(engine)
        if settings.metrics.mode == "port":
            serve_on_port(settings.metrics.port, settings.metrics.host)
        purger = asyncio.create_task(
            run_periodically(
                app.state.runtime.sessionmaker,
                settings.database.purge_interval_seconds,
                settings.vault.trash_days,
                settings.mfa.totp_enrolment_ttl_seconds,
                access_log_days=settings.shares.access_log_days,
                log_retention_days=settings.admin.log_retention_days,
            )
        )
        if app.state.serving:
            app.state.drain.install(settings.server.shutdown_drain_seconds)
        log.info("vaultapi %s started (%s mode)", __version__, settings.env.value)
        try:
            yield
        finally:
            purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purger
    finally:
        await engine.dispose()
        log.info("database pool closed")


def create_served_app() -> FastAPI:
    """The app as `vaultapi serve` runs it: with the SIGTERM drain (`vaultapi.shutdown`)."""
    return create_app(serving=True)


CORS_EXPOSED_HEADERS = [
    "ETag",
    "Location",
    "Retry-After",
    "Content-Disposition",
    "WWW-Authenticate",
    "X-Request-ID",
]
"""What a browser client on an allowed origin may read of a response."""


def create_app(settings: Settings | None = None, *, serving: bool = False) -> FastAPI:
    settings = settings or Settings()
    drain = Drain()
    middleware: list[Middleware] = []
    if settings.http.trusted_proxies:
        middleware.append(
            Middleware(ForwardedHeadersMiddleware, trusted_proxies=settings.http.trusted_proxies)
        )
    if settings.http.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.http.cors_origins,
                allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                allow_headers=["Authorization", "Content-Type", "If-Match", "If-None-Match"],
                # Every response header the contract documents, and the request id
                # (tests/test_middleware.py checks the list against the contract).
                expose_headers=CORS_EXPOSED_HEADERS,
                max_age=600,
            )
        )
    middleware.append(
        Middleware(
            RequestContextMiddleware, hsts_max_age_seconds=settings.http.hsts_max_age_seconds
        )
    )
    if settings.metrics.mode != "off":
        middleware.append(Middleware(MetricsMiddleware))
    middleware.append(Middleware(DrainMiddleware, drain=drain))
    middleware.append(
        Middleware(
            BodySizeLimitMiddleware,
            max_body_bytes=settings.http.max_body_bytes,
            per_path={f"/v{API_VERSION}/vault/import": settings.http.max_import_body_bytes},
        )
    )
    if settings.http.login_fast_path:
        middleware.append(Middleware(LoginFastPath))

    app = FastAPI(
        # We export Prometheus metrics ourselves. FastAPI's native OpenTelemetry
        # would otherwise ask three global providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        title="vaultapi",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        middleware=middleware,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.drain = drain
    app.state.serving = serving
    install_error_handlers(app)
    app.include_router(meta.probes)
    api_prefix = f"/v{API_VERSION}"
    app.include_router(meta.router, prefix=api_prefix)
    app.include_router(auth.router, prefix=api_prefix)
    app.include_router(mfa.login_router, prefix=api_prefix)
    app.include_router(account.router, prefix=api_prefix)
    app.include_router(mfa.account_router, prefix=api_prefix)
    app.include_router(admin.own_router, prefix=api_prefix)
    app.include_router(admin.router, prefix=api_prefix)
    app.include_router(vault.router, prefix=api_prefix)
    app.include_router(shares.router, prefix=api_prefix)
    app.include_router(docs.router)
    if settings.metrics.mode == "token":
        app.include_router(metrics_api.router)
    if settings.mfa.webauthn_test_page:
        app.include_router(webauthn_test_page.router)
    install_openapi(app)
    return app
