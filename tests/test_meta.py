"""Liveness, readiness and server information, on both databases."""

from __future__ import annotations

import httpx

from tests.conftest import ClientFactory
from vaultapi import API_VERSION
from vaultapi.db.migrate import head_revisions


async def test_healthz_answers_without_touching_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_database_at_head(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["schema_revision"] == ",".join(sorted(head_revisions()))


async def test_readyz_is_503_when_the_schema_is_behind(
    make_client: ClientFactory, empty_database_url: str
) -> None:
    """A database that was never migrated is reachable but not ready."""
    async with make_client(database_url=empty_database_url) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "not_ready"
    assert "vaultapi db upgrade" in problem["detail"]
    assert response.headers["retry-after"] == "5"


async def test_server_info_lives_under_the_version_prefix(make_client: ClientFactory) -> None:
    async with make_client(
        http={"max_body_bytes": 4096}, vault={"max_items": 7}, shares={"max_views": 9}
    ) as client:
        response = await client.get(f"/v{API_VERSION}/server")
    assert response.status_code == 200
    body = response.json()
    assert body["api_version"] == API_VERSION
    assert body["protocol_suites"] == ["v1"]
    assert body["limits"] == {
        "max_body_bytes": 4096,
        "max_item_bytes": 65536,
        "max_items": 7,
        "import_max_items": 1000,
        "max_share_secret_chars": 16384,
        "max_share_ttl_minutes": 10080,
        "max_share_views": 9,
    }
