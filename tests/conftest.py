"""Fixtures: databases, the app under test, and an HTTP client for it.

API tests take the `client` (or `app`) fixture and run twice: against
PostgreSQL and against SQLite (the embedded mode). PostgreSQL is required: a
run that cannot reach it stops with an explanation instead of skipping.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError

from tests.support import databases
from vaultapi.config import DatabaseSettings, Settings
from vaultapi.db import migrate
from vaultapi.db.engine import create_engine
from vaultapi.errors import DatabaseUnreachable
from vaultapi.logs import JSONFormatter
from vaultapi.main import create_app
from vaultapi.runtime import Runtime

BACKENDS = ("postgresql", "sqlite")


SECRET_PATTERNS = {
    "access token": re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.eyJ"),
    "refresh token": re.compile(r"vrt_[A-Za-z0-9_-]{43}"),
    "mfa token": re.compile(r"vmt_[A-Za-z0-9_-]{43}"),
    "EncString (ciphertext)": re.compile(r"v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{20,}"),
    "SRP value (verifier, A, B)": re.compile(r"[0-9a-fA-F]{512,}"),
    "SRP proof or hash": re.compile(r"(?<![0-9a-fA-F])[0-9a-f]{64}(?![0-9a-fA-F])"),
    "a test password": re.compile(
        r"correct horse battery staple|hunter2|a long and hard master password"
    ),
}


class _SecretScanner(logging.Handler):
    """Sees every log record of the run as the JSON log would write it."""

    def __init__(self) -> None:
        super().__init__()
        self.formatter_ = JSONFormatter()
        self.found: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.formatter_.format(record)
        except Exception:
            return
        for name, pattern in SECRET_PATTERNS.items():
            if pattern.search(text):
                self.found.append(f"{name}: {text[:400]}")


@pytest.fixture(scope="session", autouse=True)
def _no_secrets_in_any_log_line() -> Iterator[None]:
    """A token, verifier, proof, ciphertext or password in any log line of the
    whole run fails it (at the end, listing the lines)."""
    scanner = _SecretScanner()
    root = logging.getLogger()
    root.addHandler(scanner)
    try:
        yield
    finally:
        root.removeHandler(scanner)
    assert not scanner.found, "secrets in log lines:\n" + "\n".join(scanner.found[:20])


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests configure the app explicitly; a developer's VAULTAPI_* must not leak in."""
    for name in list(os.environ):
        if name.startswith("VAULTAPI_") and not name.startswith("VAULTAPI_TEST_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
async def postgresql_url() -> AsyncIterator[str]:
    admin = databases.admin_engine()
    name = databases.new_database_name()
    try:
        await databases.create_database(admin, name)
    except (OSError, DBAPIError) as exc:
        await admin.dispose()
        pytest.exit(
            f"PostgreSQL is required and cannot be reached at "
            f"{databases.redacted(databases.admin_url())} ({type(exc).__name__}: {exc}); "
            f"{databases.START_HINT}",
            returncode=3,
        )
    url = databases.with_database(databases.admin_url(), name)
    engine = create_engine(url, DatabaseSettings())
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()
    try:
        yield url
    finally:
        await databases.drop_database(admin, name)
        await admin.dispose()


@pytest.fixture(scope="session")
async def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("sqlite") / "vaultapi.db"
    url = databases.sqlite_url(str(path))
    engine = create_engine(url, DatabaseSettings())
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()
    return url


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{backend}_url")
    return url


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


SettingsFactory = Callable[..., Settings]


def settings_factory(database_url: str, tmp_path: Path) -> SettingsFactory:
    def make(**overrides: Any) -> Settings:
        base: dict[str, Any] = {
            "database_url": database_url,
            "data_dir": tmp_path / "data",
            "database": {"auto_migrate": False},
            "log": {"format": "console"},
        }
        return Settings(**_merge(base, overrides))

    return make


@pytest.fixture
def make_settings(database_url: str, tmp_path: Path) -> SettingsFactory:
    return settings_factory(database_url, tmp_path)


@asynccontextmanager
async def started(app: FastAPI) -> AsyncIterator[FastAPI]:
    """Run the app's lifespan; empty the database afterwards."""
    async with app.router.lifespan_context(app):
        try:
            yield app
        finally:
            runtime: Runtime = app.state.runtime
            # A test may point the app at a database that is down on purpose.
            with contextlib.suppress(DatabaseUnreachable):
                await databases.empty_all_tables(runtime.engine)


ClientFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


def client_factory(make_settings: SettingsFactory) -> ClientFactory:

    @asynccontextmanager
    async def make(
        app_hook: Callable[[FastAPI], None] | None = None,
        base_url: str = "http://testserver",
        **overrides: Any,
    ) -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(make_settings(**overrides))
        if app_hook is not None:
            app_hook(app)
        async with started(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
                yield client

    return make


@pytest.fixture
def make_client(make_settings: SettingsFactory) -> ClientFactory:
    """`async with make_client(http={"max_body_bytes": 2048}) as client: …`;
    `app_hook(app)` may add test-only routes before the app starts.
    Parametrized: the test runs on PostgreSQL and on SQLite."""
    return client_factory(make_settings)


@pytest.fixture
def make_postgresql_client(postgresql_url: str, tmp_path: Path) -> ClientFactory:
    """Like `make_client`, once, for tests about PostgreSQL itself."""
    return client_factory(settings_factory(postgresql_url, tmp_path))


@pytest.fixture
async def client(make_client: ClientFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as client:
        yield client


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
async def empty_database_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """A database with no schema at all, on the current backend; dropped afterwards."""
    if backend == "sqlite":
        yield databases.sqlite_url(str(tmp_path / "empty.db"))
        return
    request_postgres = databases.admin_engine()
    name = databases.new_database_name("vaultapi_empty")
    await databases.create_database(request_postgres, name)
    try:
        yield databases.with_database(databases.admin_url(), name)
    finally:
        await databases.drop_database(request_postgres, name)
        await request_postgres.dispose()


@pytest.fixture
async def client_http(make_client: ClientFactory) -> AsyncIterator[httpx.AsyncClient]:
    """The app under test, for the reference client (`vaultapi.client`)."""
    async with make_client() as http:
        yield http


def pytest_terminal_summary(terminalreporter: Any) -> None:
    from tests.support.reports import REPORT_LINES

    if REPORT_LINES:
        terminalreporter.section("measurements")
        for line in REPORT_LINES:
            terminalreporter.write_line(line)
