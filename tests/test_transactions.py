"""One commit per request, before the response: a client never gets a 2xx for
a write that did not land, and a failed request leaves nothing behind.

A deferred foreign key makes the COMMIT itself fail (the INSERT succeeds),
which is the case that a commit *after* sending the response would get wrong.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import ClientFactory
from vaultapi.api.deps import SessionDep
from vaultapi.errors import Conflict
from vaultapi.runtime import Runtime

DDL = [
    "CREATE TABLE probe_parent (id INTEGER PRIMARY KEY)",
    "CREATE TABLE probe_child (id INTEGER PRIMARY KEY, parent_id INTEGER "
    "REFERENCES probe_parent (id) DEFERRABLE INITIALLY DEFERRED)",
]


def add_probe_routes(app: FastAPI) -> None:
    @app.post("/v1/_test/children/{child_id}", status_code=201)
    async def create_child(child_id: int, parent_id: int, session: SessionDep) -> dict[str, int]:
        await session.execute(
            text("INSERT INTO probe_child (id, parent_id) VALUES (:id, :parent)"),
            {"id": child_id, "parent": parent_id},
        )
        return {"id": child_id}

    @app.post("/v1/_test/children/{child_id}/then-conflict")
    async def create_then_fail(child_id: int, session: SessionDep) -> None:
        await session.execute(
            text("INSERT INTO probe_child (id, parent_id) VALUES (:id, NULL)"), {"id": child_id}
        )
        raise Conflict("changed my mind")


@pytest.fixture
async def probe(make_client: ClientFactory) -> AsyncIterator[tuple[httpx.AsyncClient, AsyncEngine]]:
    app_ref: list[FastAPI] = []

    def hook(app: FastAPI) -> None:
        add_probe_routes(app)
        app_ref.append(app)

    async with make_client(app_hook=hook) as client:
        runtime: Runtime = app_ref[0].state.runtime
        engine = runtime.engine
        async with engine.begin() as connection:
            for statement in DDL:
                await connection.execute(text(statement))
            await connection.execute(text("INSERT INTO probe_parent (id) VALUES (1)"))
        try:
            yield client, engine
        finally:
            async with engine.begin() as connection:
                await connection.execute(text("DROP TABLE probe_child"))
                await connection.execute(text("DROP TABLE probe_parent"))


async def child_ids(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as connection:
        rows = await connection.execute(text("SELECT id FROM probe_child ORDER BY id"))
        return [row[0] for row in rows]


async def test_a_committed_write_is_answered_201(
    probe: tuple[httpx.AsyncClient, AsyncEngine],
) -> None:
    client, engine = probe
    response = await client.post("/v1/_test/children/10", params={"parent_id": 1})
    assert response.status_code == 201
    assert await child_ids(engine) == [10]


async def test_a_failed_commit_is_never_answered_2xx(
    probe: tuple[httpx.AsyncClient, AsyncEngine],
) -> None:
    client, engine = probe
    response = await client.post("/v1/_test/children/11", params={"parent_id": 999})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert await child_ids(engine) == []


async def test_an_error_after_a_write_rolls_it_back(
    probe: tuple[httpx.AsyncClient, AsyncEngine],
) -> None:
    client, engine = probe
    response = await client.post("/v1/_test/children/12/then-conflict")
    assert response.status_code == 409
    assert await child_ids(engine) == []
