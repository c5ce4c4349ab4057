"""Single-item writes (create, update, trash, restore) on the direct path:
the answers and their order, what an error leaves behind (nothing), history
with and without versions kept, usage counts, tombstones, and ids raced
across accounts. Runs on PostgreSQL and SQLite."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.api.conftest import EMAIL, PASSWORD, Account, runtime_of
from tests.api.test_vault import create, fields_of, folder_body, item_body
from tests.conftest import ClientFactory
from vaultapi import client
from vaultapi.crypto.kdf import MINIMUM_KDF
from vaultapi.db.models import UsageCounter


@pytest.fixture
async def http(client_http: httpx.AsyncClient, alice: Account) -> httpx.AsyncClient:
    login = await client.login(client_http, EMAIL, PASSWORD)
    client_http.headers.update(login.auth_header)
    return client_http


async def logged_in(http: httpx.AsyncClient) -> httpx.AsyncClient:
    await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
    http.headers.update((await client.login(http, EMAIL, PASSWORD)).auth_header)
    return http


async def vault_revision(http: httpx.AsyncClient) -> int:
    revision: int = (await http.get("/v1/vault/sync")).json()["revision"]
    return revision


async def usage(http: httpx.AsyncClient, metric: str) -> int:
    async with runtime_of(http).sessionmaker() as session:
        total = await session.scalar(
            select(func.coalesce(func.sum(UsageCounter.count), 0)).where(
                UsageCounter.metric == metric  # type: ignore[arg-type]
            )
        )
    return int(total or 0)


def problem(response: httpx.Response) -> tuple[int, str, str]:
    body: dict[str, Any] = response.json()
    return response.status_code, body["code"], body.get("detail", "")


# -- update ----------------------------------------------------------------------


async def test_an_update_answers_what_a_read_answers(http: httpx.AsyncClient) -> None:
    item = await create(http)
    path = f"/v1/vault/items/{item['id']}"
    updated = await http.put(
        path, json=fields_of(item_body(uuid.UUID(item["id"]))), headers={"If-Match": '"1"'}
    )
    assert updated.status_code == 200
    read = await http.get(path)
    assert updated.content == read.content
    assert updated.headers["etag"] == read.headers["etag"] == '"2"'
    assert updated.json()["created_at"] == item["created_at"]
    assert await usage(http, "items_updated") == 1


async def test_a_failed_update_changes_nothing(http: httpx.AsyncClient) -> None:
    item = await create(http)
    path = f"/v1/vault/items/{item['id']}"
    before = await vault_revision(http)
    change = fields_of(item_body(uuid.UUID(item["id"]), folder_id=str(uuid.uuid4())))

    no_folder = await http.put(path, json=change, headers={"If-Match": '"1"'})
    assert problem(no_folder) == (404, "not_found", "No such folder in this vault")
    # The item's own errors come first, as they always did.
    stale = await http.put(path, json=change, headers={"If-Match": '"7"'})
    assert problem(stale)[:2] == (412, "stale_revision")
    assert stale.json()["current_revision"] == 1
    missing = await http.put(
        f"/v1/vault/items/{uuid.uuid4()}", json=change, headers={"If-Match": '"1"'}
    )
    assert problem(missing) == (404, "not_found", "No such item in this vault")

    assert (await http.get(path)).json() == item
    assert (await http.get(f"{path}/history")).json()["versions"] == []
    assert await vault_revision(http) == before
    assert await usage(http, "items_updated") == 0


async def test_updates_without_history(make_client: ClientFactory) -> None:
    async with make_client(vault={"history_versions": 0}) as http:
        await logged_in(http)
        item = await create(http)
        path = f"/v1/vault/items/{item['id']}"
        change = fields_of(item_body(uuid.UUID(item["id"])))
        updated = await http.put(path, json=change, headers={"If-Match": '"1"'})
        assert (updated.status_code, updated.json()["data"]) == (200, change["data"])
        stale = await http.put(path, json=change, headers={"If-Match": '"1"'})
        assert problem(stale)[:2] == (412, "stale_revision")
        assert stale.json()["current_revision"] == 2
        missing = await http.put(
            f"/v1/vault/items/{uuid.uuid4()}",
            json={**change, "folder_id": str(uuid.uuid4())},
            headers={"If-Match": '"1"'},
        )
        assert problem(missing) == (404, "not_found", "No such item in this vault")
        no_folder = await http.put(
            path, json={**change, "folder_id": str(uuid.uuid4())}, headers={"If-Match": '"2"'}
        )
        assert problem(no_folder) == (404, "not_found", "No such folder in this vault")
        assert (await http.get(path)).json()["revision"] == 2
        assert (await http.get(f"{path}/history")).json()["versions"] == []


async def test_an_update_may_move_an_item_into_a_folder(http: httpx.AsyncClient) -> None:
    folder = (await http.post("/v1/vault/folders", json=folder_body())).json()
    item = await create(http)
    change = fields_of(item_body(uuid.UUID(item["id"]), folder_id=folder["id"]))
    moved = await http.put(
        f"/v1/vault/items/{item['id']}", json=change, headers={"If-Match": '"1"'}
    )
    assert (moved.status_code, moved.json()["folder_id"]) == (200, folder["id"])
    history = (await http.get(f"/v1/vault/items/{item['id']}/history")).json()["versions"]
    assert [(v["revision"], v["folder_id"], v["data"]) for v in history] == [
        (1, None, item["data"])
    ]


# -- trash and restore -----------------------------------------------------------


async def test_trashing_twice_keeps_the_first_date_and_counts_once(
    http: httpx.AsyncClient,
) -> None:
    item = await create(http)
    path = f"/v1/vault/items/{item['id']}"
    first = await http.delete(path, headers={"If-Match": '"1"'})
    again = await http.delete(path, headers={"If-Match": '"2"'})
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["revision"] == 3
    assert again.json()["deleted_at"] == first.json()["deleted_at"] is not None
    assert again.json()["updated_at"] > first.json()["updated_at"]
    assert await usage(http, "items_deleted") == 1

    assert problem(await http.delete(path, headers={"If-Match": '"2"'}))[:2] == (
        412,
        "stale_revision",
    )
    assert problem(await http.post(f"{path}/restore", headers={"If-Match": '"2"'}))[:2] == (
        412,
        "stale_revision",
    )
    restored = await http.post(f"{path}/restore", headers={"If-Match": '"3"'})
    assert (restored.json()["revision"], restored.json()["deleted_at"]) == (4, None)
    assert restored.content == (await http.get(path)).content


async def test_trash_and_restore_of_a_missing_item(http: httpx.AsyncClient) -> None:
    path = f"/v1/vault/items/{uuid.uuid4()}"
    assert problem(await http.delete(path, headers={"If-Match": '"1"'}))[0] == 404
    assert problem(await http.post(f"{path}/restore", headers={"If-Match": '"1"'}))[0] == 404
    assert await usage(http, "items_deleted") == 0


# -- create ----------------------------------------------------------------------


async def test_create_refuses_taken_ids_and_missing_folders_in_order(
    make_client: ClientFactory,
) -> None:
    async with make_client(vault={"max_items": 1}) as http:
        await logged_in(http)
        folder = (await http.post("/v1/vault/folders", json=folder_body())).json()
        item = await create(http)
        before = await vault_revision(http)

        # A taken id is told before a full vault; a missing folder before both.
        duplicate = await http.post("/v1/vault/items", json=item_body(uuid.UUID(item["id"])))
        assert problem(duplicate)[:2] == (409, "item_exists")
        assert duplicate.json()["existing_ids"] == [item["id"]]
        a_folder_id = await http.post("/v1/vault/items", json=item_body(uuid.UUID(folder["id"])))
        assert problem(a_folder_id)[:2] == (409, "item_exists")
        full = await http.post("/v1/vault/items", json=item_body())
        assert problem(full)[:2] == (409, "limit_reached")
        assert full.json()["limit"] == 1
        no_folder = await http.post(
            "/v1/vault/items",
            json=item_body(uuid.UUID(item["id"]), folder_id=str(uuid.uuid4())),
        )
        assert problem(no_folder) == (404, "not_found", "No such folder in this vault")

        assert await vault_revision(http) == before
        assert await usage(http, "items_created") == 1


async def test_ids_are_global_even_when_accounts_race(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    """Two accounts create items with the same ids at once: each id is
    created once, the other request gets 409 (the friendly check, or the
    primary key when both pass it together)."""
    await client.register(client_http, "bob@example.com", "bob's password", kdf=MINIMUM_KDF)
    headers = [
        (await client.login(client_http, EMAIL, PASSWORD)).auth_header,
        (await client.login(client_http, "bob@example.com", "bob's password")).auth_header,
    ]
    bodies = [item_body() for _ in range(8)]
    responses = await asyncio.gather(
        *(
            client_http.post("/v1/vault/items", json=body, headers=auth)
            for body in bodies
            for auth in headers
        )
    )
    for pair in zip(responses[::2], responses[1::2], strict=True):
        assert sorted(r.status_code for r in pair) == [201, 409], [r.text for r in pair]
        assert {r.json().get("code") for r in pair if r.status_code == 409} == {"item_exists"}
    synced = [
        len((await client_http.get("/v1/vault/sync", headers=auth)).json()["items"])
        for auth in headers
    ]
    assert sum(synced) == len(bodies)
    assert await usage(client_http, "items_created") == len(bodies)


async def test_a_purged_id_created_again_is_no_tombstone(http: httpx.AsyncClient) -> None:
    item = await create(http)
    await http.post(f"/v1/vault/items/{item['id']}/purge", headers={"If-Match": '"1"'})
    cursor = (await http.get("/v1/vault/sync")).json()["revision"]
    created = await http.post("/v1/vault/items", json=item_body(uuid.UUID(item["id"])))
    assert created.status_code == 201
    assert created.content == (await http.get(f"/v1/vault/items/{item['id']}")).content
    delta = (await http.get("/v1/vault/sync", params={"since": cursor - 1})).json()
    assert [i["id"] for i in delta["items"]] == [item["id"]]
    assert delta["tombstones"] == []


async def test_an_if_match_beyond_any_revision_is_stale_or_missing(http: httpx.AsyncClient) -> None:
    """Revisions are 32-bit in the database; a larger If-Match is an old or
    wrong revision like any other (412, or 404 for no item), never a 500."""
    item = await create(http)
    huge = {"If-Match": '"99999999999"'}
    path = f"/v1/vault/items/{item['id']}"
    for response in (
        await http.put(path, json=fields_of(item_body()), headers=huge),
        await http.delete(path, headers=huge),
        await http.post(f"{path}/restore", headers=huge),
    ):
        assert response.status_code == 412, response.text
        assert response.json()["current_revision"] == item["revision"]
    missing = f"/v1/vault/items/{uuid.uuid4()}"
    assert (await http.put(missing, json=fields_of(item_body()), headers=huge)).status_code == 404
    assert (await http.delete(missing, headers=huge)).status_code == 404
