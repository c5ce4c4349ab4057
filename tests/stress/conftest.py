"""Fixtures for the fault and load tests: a fresh database per test, an
admin connection to PostgreSQL, and small pools (the machine's PostgreSQL
allows 100 connections, shared with everything else that runs)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support import databases
from tests.support.cluster import fresh_database


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything here is `stress` (`make stress`) and starts real processes (`slow`)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.stress)
            item.add_marker(pytest.mark.slow)


@pytest.fixture
async def database(workdir: Path) -> AsyncIterator[str]:
    async with fresh_database(workdir) as url:
        yield url


@pytest.fixture
def database_name(database: str) -> str:
    name = make_url(database).database
    assert name is not None
    return name


@pytest.fixture
async def admin() -> AsyncIterator[AsyncEngine]:
    engine = databases.admin_engine()
    try:
        yield engine
    finally:
        await engine.dispose()


def small_pool(
    *, size: int = 4, pool_timeout: float = 3, connect_timeout: float = 2, **more: str
) -> dict[str, str]:
    """Environment for servers with a small pool and quick failure, plus `more`."""
    return {
        "VAULTAPI_DATABASE__POOL_SIZE": str(size),
        "VAULTAPI_DATABASE__POOL_TIMEOUT_SECONDS": str(pool_timeout),
        "VAULTAPI_DATABASE__CONNECT_TIMEOUT_SECONDS": str(connect_timeout),
        **more,
    }


def fresh_connections(base_url: str) -> httpx.AsyncClient:
    """A client that opens a new connection per request. With keep-alive, a
    request may be sent on a connection the server is just closing (uvicorn
    closes idle ones after 5 s): a dropped request the test did not cause."""
    limits = httpx.Limits(max_connections=500, max_keepalive_connections=0)
    return httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits)
