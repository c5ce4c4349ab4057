"""The vault over HTTP: revisions, trash, history, folders, sync, limits, access."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from typing import Any

import httpx
import pytest

from tests.api.conftest import EMAIL, PASSWORD, Account
from tests.conftest import ClientFactory
from vaultapi import client
from vaultapi.crypto import encstring
from vaultapi.crypto.kdf import MINIMUM_KDF


def item_body(item_id: uuid.UUID | None = None, /, **fields: Any) -> dict[str, Any]:
    """A real client-side item: a random item key wrapped under a (test)
    account key, and the JSON encrypted under the item key, both bound to
    the item id."""
    item_id = item_id or uuid.uuid4()
    item_key = secrets.token_bytes(32)
    body = {
        "id": str(item_id),
        "type": "login",
        "key": encstring.encrypt(bytes(32), item_key, str(item_id)),
        "data": encstring.encrypt(
            item_key, b'{"name": "bank", "password": "s3cret"}', str(item_id)
        ),
    }
    body.update(fields)
    return body


def folder_body(folder_id: uuid.UUID | None = None) -> dict[str, Any]:
    folder_id = folder_id or uuid.uuid4()
    return {"id": str(folder_id), "name": encstring.encrypt(bytes(32), b"Banking", str(folder_id))}


def fields_of(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "id"}


@pytest.fixture
async def http(client_http: httpx.AsyncClient, alice: Account) -> httpx.AsyncClient:
    login = await client.login(client_http, EMAIL, PASSWORD)
    client_http.headers.update(login.auth_header)
    return client_http


async def create(http: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await http.post("/v1/vault/items", json=item_body(**fields))
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


# -- items ---------------------------------------------------------------------


async def test_create_and_read_an_item(http: httpx.AsyncClient) -> None:
    body = item_body()
    created = await http.post("/v1/vault/items", json=body)
    assert created.status_code == 201
    assert created.headers["etag"] == '"1"'
    assert created.headers["location"] == f"/v1/vault/items/{body['id']}"
    fetched = await http.get(f"/v1/vault/items/{body['id']}")
    assert fetched.headers["etag"] == '"1"'
    item = fetched.json()
    assert (item["key"], item["data"], item["revision"]) == (body["key"], body["data"], 1)
    again = await http.post("/v1/vault/items", json=body)
    assert again.status_code == 409
    assert again.json()["code"] == "item_exists"


async def test_updates_need_the_current_revision(http: httpx.AsyncClient) -> None:
    item = await create(http)
    path = f"/v1/vault/items/{item['id']}"
    change = fields_of(item_body(uuid.UUID(item["id"]), favorite=True))

    missing = await http.put(path, json=change)
    assert missing.status_code == 428
    assert missing.json()["code"] == "precondition_required"
    malformed = await http.put(path, json=change, headers={"If-Match": "1"})
    assert malformed.status_code == 400

    updated = await http.put(path, json=change, headers={"If-Match": '"1"'})
    assert updated.status_code == 200
    assert updated.json()["revision"] == 2
    assert updated.json()["favorite"] is True
    assert updated.headers["etag"] == '"2"'

    stale = await http.put(path, json=change, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.json()["code"] == "stale_revision"
    assert stale.json()["current_revision"] == 2


async def test_racing_updates_exactly_one_wins(http: httpx.AsyncClient) -> None:
    item = await create(http)
    path = f"/v1/vault/items/{item['id']}"
    bodies = [fields_of(item_body(uuid.UUID(item["id"]))) for _ in range(20)]
    responses = await asyncio.gather(
        *(http.put(path, json=body, headers={"If-Match": '"1"'}) for body in bodies)
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [412] * 19
    winner = next(r for r in responses if r.status_code == 200).json()
    stored = (await http.get(path)).json()
    assert stored["data"] == winner["data"]  # the winner's write, nothing lost or mixed
    assert stored["revision"] == 2


async def test_trash_restore_and_purge(http: httpx.AsyncClient) -> None:
    item = await create(http)
    path = f"/v1/vault/items/{item['id']}"
    trashed = await http.delete(path, headers={"If-Match": '"1"'})
    assert trashed.status_code == 200
    assert trashed.json()["deleted_at"] is not None
    assert (await http.get("/v1/vault/items")).json()["items"] == []
    in_trash = (await http.get("/v1/vault/items", params={"trashed": True})).json()["items"]
    assert [i["id"] for i in in_trash] == [item["id"]]

    restored = await http.post(f"{path}/restore", headers={"If-Match": '"2"'})
    assert restored.json()["deleted_at"] is None
    assert restored.json()["revision"] == 3

    purged = await http.post(f"{path}/purge", headers={"If-Match": '"3"'})
    assert purged.status_code == 204
    assert (await http.get(path)).status_code == 404


async def test_history_keeps_the_configured_number_of_versions(
    make_client: ClientFactory,
) -> None:
    async with make_client(vault={"history_versions": 2}) as http:
        await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        http.headers.update((await client.login(http, EMAIL, PASSWORD)).auth_header)
        item = await create(http)
        path = f"/v1/vault/items/{item['id']}"
        datas = [item["data"]]
        for revision in (1, 2, 3):
            body = fields_of(item_body(uuid.UUID(item["id"])))
            await http.put(path, json=body, headers={"If-Match": f'"{revision}"'})
            datas.append(body["data"])
        versions = (await http.get(f"{path}/history")).json()["versions"]
    assert [v["revision"] for v in versions] == [3, 2]
    assert [v["data"] for v in versions] == [datas[2], datas[1]]


# -- folders -------------------------------------------------------------------


async def test_deleting_a_folder_keeps_its_items(http: httpx.AsyncClient) -> None:
    folder = (await http.post("/v1/vault/folders", json=folder_body())).json()
    item = await create(http, folder_id=folder["id"])
    cursor = (await http.get("/v1/vault/sync")).json()["revision"]

    renamed = await http.put(
        f"/v1/vault/folders/{folder['id']}",
        json={"name": folder_body()["name"]},
        headers={"If-Match": '"1"'},
    )
    assert renamed.json()["revision"] == 2
    deleted = await http.delete(f"/v1/vault/folders/{folder['id']}", headers={"If-Match": '"2"'})
    assert deleted.status_code == 204

    moved = (await http.get(f"/v1/vault/items/{item['id']}")).json()
    assert moved["folder_id"] is None
    assert moved["revision"] == 2  # moving it is a change that syncs
    delta = (await http.get("/v1/vault/sync", params={"since": cursor})).json()
    assert [i["id"] for i in delta["items"]] == [item["id"]]
    assert delta["tombstones"] == [{"id": folder["id"], "kind": "folder"}]


async def test_an_item_cannot_point_at_a_missing_folder(http: httpx.AsyncClient) -> None:
    response = await http.post("/v1/vault/items", json=item_body(folder_id=str(uuid.uuid4())))
    assert response.status_code == 404


# -- sync ----------------------------------------------------------------------


async def test_delta_sync_returns_only_what_changed(http: httpx.AsyncClient) -> None:
    items = [await create(http) for _ in range(10)]
    full = await http.get("/v1/vault/sync")
    assert full.json()["full"] is True
    assert len(full.json()["items"]) == 10
    cursor = full.json()["revision"]

    unchanged = await http.get(
        "/v1/vault/sync", params={"since": cursor}, headers={"If-None-Match": full.headers["etag"]}
    )
    assert unchanged.status_code == 304

    changed = items[3]
    await http.put(
        f"/v1/vault/items/{changed['id']}",
        json=fields_of(item_body(uuid.UUID(changed["id"]))),
        headers={"If-Match": '"1"'},
    )
    await http.delete(f"/v1/vault/items/{items[4]['id']}", headers={"If-Match": '"1"'})
    await http.post(f"/v1/vault/items/{items[5]['id']}/purge", headers={"If-Match": '"1"'})
    added = await create(http)

    delta = (await http.get("/v1/vault/sync", params={"since": cursor})).json()
    assert delta["full"] is False
    assert {i["id"] for i in delta["items"]} == {changed["id"], items[4]["id"], added["id"]}
    assert delta["tombstones"] == [{"id": items[5]["id"], "kind": "item"}]
    assert delta["revision"] == cursor + 4

    again = (await http.get("/v1/vault/sync", params={"since": delta["revision"]})).json()
    assert (again["items"], again["folders"], again["tombstones"]) == ([], [], [])


async def test_a_cursor_from_the_future_gets_the_full_vault(http: httpx.AsyncClient) -> None:
    await create(http)
    sync = (await http.get("/v1/vault/sync", params={"since": 10**9})).json()
    assert sync["full"] is True
    assert len(sync["items"]) == 1


# -- limits --------------------------------------------------------------------


async def test_limits_are_settings(make_client: ClientFactory) -> None:
    async with make_client(
        vault={"max_items": 2, "max_folders": 1, "max_item_bytes": 2048, "max_page_size": 1}
    ) as http:
        await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        http.headers.update((await client.login(http, EMAIL, PASSWORD)).auth_header)
        first = await create(http)
        await create(http)
        third = await http.post("/v1/vault/items", json=item_body())
        assert third.status_code == 409
        assert third.json()["code"] == "limit_reached"
        assert third.json()["limit"] == 2

        big_id = uuid.uuid4()
        big = item_body(big_id, data=encstring.encrypt(bytes(32), b"x" * 2000, str(big_id)))
        too_big = await http.post(f"/v1/vault/items/{first['id']}", json=big)
        assert too_big.status_code == 405
        too_big = await http.put(
            f"/v1/vault/items/{first['id']}", json=fields_of(big), headers={"If-Match": '"1"'}
        )
        assert too_big.status_code == 400
        assert too_big.json()["code"] == "invalid_ciphertext"

        assert (await http.post("/v1/vault/folders", json=folder_body())).status_code == 201
        assert (await http.post("/v1/vault/folders", json=folder_body())).status_code == 409

        page = (await http.get("/v1/vault/items", params={"limit": 50})).json()
        assert len(page["items"]) == 1
        rest = (await http.get("/v1/vault/items", params={"after": page["next_after"]})).json()
        assert len(rest["items"]) == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [("data", "not an encstring"), ("key", "v1.AAAA.AAAA"), ("type", "spaceship")],
)
async def test_malformed_items_are_refused(http: httpx.AsyncClient, field: str, value: str) -> None:
    response = await http.post("/v1/vault/items", json=item_body(**{field: value}))
    assert response.status_code in (400, 422)


# -- who may touch what --------------------------------------------------------


@pytest.fixture
async def two_vaults(client_http: httpx.AsyncClient, alice: Account) -> dict[str, Any]:
    await client.register(client_http, "mallory@example.com", "mallory's password", kdf=MINIMUM_KDF)
    alice_login = await client.login(client_http, EMAIL, PASSWORD)
    mallory = await client.login(client_http, "mallory@example.com", "mallory's password")
    client_http.headers.update(alice_login.auth_header)
    folder = (await client_http.post("/v1/vault/folders", json=folder_body())).json()
    item = await create(client_http, folder_id=folder["id"])
    del client_http.headers["Authorization"]
    return {
        "alice": alice_login.auth_header,
        "mallory": mallory.auth_header,
        "item": item,
        "folder": folder,
    }


def routes(item_id: str, folder_id: str) -> list[tuple[str, str, dict[str, Any] | None, bool]]:
    """(method, path, body, names an alice object)."""
    item_fields = fields_of(item_body(uuid.UUID(item_id)))
    return [
        ("GET", "/v1/vault/items", None, False),
        ("POST", "/v1/vault/items", item_body(), False),
        ("GET", f"/v1/vault/items/{item_id}", None, True),
        ("PUT", f"/v1/vault/items/{item_id}", item_fields, True),
        ("DELETE", f"/v1/vault/items/{item_id}", None, True),
        ("POST", f"/v1/vault/items/{item_id}/restore", None, True),
        ("POST", f"/v1/vault/items/{item_id}/purge", None, True),
        ("GET", f"/v1/vault/items/{item_id}/history", None, True),
        ("GET", "/v1/vault/folders", None, False),
        ("POST", "/v1/vault/folders", folder_body(), False),
        ("PUT", f"/v1/vault/folders/{folder_id}", {"name": folder_body()["name"]}, True),
        ("DELETE", f"/v1/vault/folders/{folder_id}", None, True),
        ("GET", "/v1/vault/sync", None, False),
        ("POST", "/v1/vault/import", {"items": [item_body()]}, False),
        ("GET", "/v1/vault/export", None, False),
    ]


async def test_authorization_matrix(
    client_http: httpx.AsyncClient, two_vaults: dict[str, Any]
) -> None:
    """Every vault route: anonymous gets 401; another account never sees or
    changes alice's objects (404, or its own empty vault); alice still has
    everything, unchanged, afterwards."""
    item, folder = two_vaults["item"], two_vaults["folder"]
    for method, path, body, names_alice_object in routes(item["id"], folder["id"]):
        anonymous = await client_http.request(method, path, json=body, headers={"If-Match": '"1"'})
        assert anonymous.status_code == 401, (method, path)

        as_mallory = await client_http.request(
            method, path, json=body, headers={**two_vaults["mallory"], "If-Match": '"1"'}
        )
        if names_alice_object:
            assert as_mallory.status_code == 404, (method, path, as_mallory.text)
        else:
            assert as_mallory.status_code in (200, 201), (method, path, as_mallory.text)
            assert item["id"] not in as_mallory.text
            assert folder["id"] not in as_mallory.text

    mine = await client_http.get("/v1/vault/sync", headers=two_vaults["alice"])
    assert [i["id"] for i in mine.json()["items"]] == [item["id"]]
    assert mine.json()["items"][0]["revision"] == 1
    assert [f["id"] for f in mine.json()["folders"]] == [folder["id"]]


async def test_old_trash_is_purged_and_devices_learn_of_it(http: httpx.AsyncClient) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from tests.api.conftest import runtime_of
    from vaultapi.db.models import VaultItem
    from vaultapi.db.types import utcnow
    from vaultapi.services.maintenance import purge_expired

    old, recent, kept = await create(http), await create(http), await create(http)
    for item in (old, recent):
        await http.delete(f"/v1/vault/items/{item['id']}", headers={"If-Match": '"1"'})
    cursor = (await http.get("/v1/vault/sync")).json()["revision"]
    runtime = runtime_of(http)
    async with runtime.sessionmaker() as session:
        await session.execute(
            update(VaultItem)
            .where(VaultItem.id == uuid.UUID(old["id"]))  # type: ignore[arg-type]
            .values(deleted_at=utcnow() - timedelta(days=31))
        )
        await session.commit()
    async with runtime.sessionmaker() as session:
        purged = await purge_expired(session, utcnow(), trash_days=30)
        await session.commit()
    assert purged.trashed_items == 1
    delta = (await http.get("/v1/vault/sync", params={"since": cursor})).json()
    assert delta["tombstones"] == [{"id": old["id"], "kind": "item"}]
    assert (await http.get(f"/v1/vault/items/{recent['id']}")).status_code == 200
    assert (await http.get(f"/v1/vault/items/{kept['id']}")).status_code == 200


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_an_item_restored_while_the_purge_waits_is_kept_and_not_tombstoned(
    backend: str, http: httpx.AsyncClient
) -> None:
    """The purge picks its candidates before it takes the account's vault
    lock. An item restored in between must stay, and get no tombstone: a
    tombstone would make every device drop an item the server still has."""
    import asyncio
    from datetime import timedelta

    from sqlalchemy import text, update
    from sqlmodel import col

    from tests.api.conftest import runtime_of, waiting
    from vaultapi.db.models import VaultItem
    from vaultapi.db.types import utcnow
    from vaultapi.services.maintenance import Purged, purge_expired

    item = await create(http)
    await http.delete(f"/v1/vault/items/{item['id']}", headers={"If-Match": '"1"'})
    cursor = (await http.get("/v1/vault/sync")).json()["revision"]
    runtime = runtime_of(http)
    this_item = col(VaultItem.id) == uuid.UUID(item["id"])
    async with runtime.sessionmaker() as session:
        await session.execute(
            update(VaultItem).where(this_item).values(deleted_at=utcnow() - timedelta(days=31))
        )
        await session.commit()

    async def purge() -> Purged:
        async with runtime.sessionmaker() as session:
            purged = await purge_expired(session, utcnow(), trash_days=30)
            await session.commit()
            return purged

    async with runtime.sessionmaker() as holder:  # holds the account's vault lock
        await holder.execute(text("SELECT account_id FROM vaults FOR UPDATE"))
        purging = await waiting(http, purge())
        async with runtime.sessionmaker() as session:  # the restore lands meanwhile
            await session.execute(update(VaultItem).where(this_item).values(deleted_at=None))
            await session.commit()
        await holder.rollback()
    assert (await asyncio.wait_for(purging, 30)).trashed_items == 0
    assert (await http.get(f"/v1/vault/items/{item['id']}")).status_code == 200
    delta = (await http.get("/v1/vault/sync", params={"since": cursor})).json()
    assert delta["tombstones"] == []
    assert delta["revision"] == cursor, "a purge that removed nothing made a revision"


# -- import and export ---------------------------------------------------------


async def test_import_is_all_or_nothing(http: httpx.AsyncClient) -> None:
    folders = [folder_body() for _ in range(3)]
    items = [item_body(folder_id=folders[n % 3]["id"]) for n in range(10)]
    imported = await http.post("/v1/vault/import", json={"folders": folders, "items": items})
    assert imported.status_code == 200, imported.text
    assert imported.json()["items"] == 10
    before = (await http.get("/v1/vault/sync")).json()
    assert len(before["items"]) == 10
    assert {i["revision"] for i in before["items"]} == {1}

    clash = [item_body() for _ in range(4)] + [item_body(uuid.UUID(items[0]["id"]))]
    refused = await http.post("/v1/vault/import", json={"items": clash})
    assert refused.status_code == 409
    assert refused.json()["existing_ids"] == [items[0]["id"]]
    dangling = await http.post(
        "/v1/vault/import", json={"items": [item_body(folder_id=str(uuid.uuid4()))]}
    )
    assert dangling.status_code == 404
    twice = item_body()
    assert (await http.post("/v1/vault/import", json={"items": [twice, twice]})).status_code == 400
    after = (await http.get("/v1/vault/sync")).json()
    assert after["revision"] == before["revision"]  # nothing from the refused imports
    assert len(after["items"]) == 10


async def test_import_has_its_own_body_limit(make_client: ClientFactory) -> None:
    async with make_client(http={"max_body_bytes": 4096, "max_import_body_bytes": 200_000}) as http:
        await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        http.headers.update((await client.login(http, EMAIL, PASSWORD)).auth_header)
        items = [item_body() for _ in range(40)]  # about 9 KB
        assert (await http.post("/v1/vault/import", json={"items": items})).status_code == 200
        one = await http.post("/v1/vault/items", json=item_body(data="x" * 5000))
        assert one.status_code == 413  # the general limit still applies elsewhere
        many = [item_body() for _ in range(1000)]  # about 230 KB
        assert (await http.post("/v1/vault/import", json={"items": many})).status_code == 413


async def test_import_counts_against_the_limits(make_client: ClientFactory) -> None:
    async with make_client(vault={"import_max_items": 5, "max_items": 7}) as http:
        await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)
        http.headers.update((await client.login(http, EMAIL, PASSWORD)).auth_header)
        six = await http.post("/v1/vault/import", json={"items": [item_body() for _ in range(6)]})
        assert six.status_code == 409
        assert six.json()["code"] == "limit_reached"
        five = [item_body() for _ in range(5)]
        assert (await http.post("/v1/vault/import", json={"items": five})).status_code == 200
        over = await http.post("/v1/vault/import", json={"items": [item_body() for _ in range(3)]})
        assert over.status_code == 409


async def test_export_holds_everything_needed_to_decrypt_it(http: httpx.AsyncClient) -> None:
    folder = (await http.post("/v1/vault/folders", json=folder_body())).json()
    kept = await create(http, folder_id=folder["id"])
    trashed = await create(http)
    await http.delete(f"/v1/vault/items/{trashed['id']}", headers={"If-Match": '"1"'})
    export = (await http.get("/v1/vault/export")).json()
    assert export["format"] == "vaultapi/v1"
    assert {i["id"] for i in export["items"]} == {kept["id"], trashed["id"]}
    assert [f["id"] for f in export["folders"]] == [folder["id"]]
    account = export["account"]
    assert account["email"] == EMAIL
    assert set(account["kdf"]) == {"algorithm", "memory_kib", "iterations", "parallelism", "salt"}
    assert account["protected_account_key"].startswith("v1.")


async def test_two_accounts_racing_for_one_id_get_a_409_not_a_500(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    await client.register(client_http, "bob@example.com", "bob password!!", kdf=MINIMUM_KDF)
    logins = [
        await client.login(client_http, EMAIL, PASSWORD),
        await client.login(client_http, "bob@example.com", "bob password!!"),
    ]
    body = item_body()
    responses = await asyncio.gather(
        *(
            client_http.post("/v1/vault/items", json=body, headers=login.auth_header)
            for login in logins
            for _ in range(3)
        )
    )
    assert sorted(r.status_code for r in responses) == [201] + [409] * 5


async def test_an_id_reimported_after_a_purge_is_alive_on_other_devices(
    http: httpx.AsyncClient,
) -> None:
    body = item_body()
    await http.post("/v1/vault/items", json=body)
    cursor = (await http.get("/v1/vault/sync")).json()["revision"]
    await http.post(f"/v1/vault/items/{body['id']}/purge", headers={"If-Match": '"1"'})
    assert (await http.post("/v1/vault/import", json={"items": [body]})).status_code == 200
    delta = (await http.get("/v1/vault/sync", params={"since": cursor})).json()
    assert delta["tombstones"] == []  # a device must not drop the re-imported item
    assert [i["id"] for i in delta["items"]] == [body["id"]]


async def test_the_direct_reads_check_the_session_on_every_request(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    """Item read and sync run on the direct path (no ORM session): they still
    refuse a revoked session, a disabled account, and a token whose session
    belongs to another account, on the very next request."""
    from sqlalchemy import update

    from tests.api.conftest import runtime_of
    from vaultapi.db.models import Account as AccountRow

    phone = await client.login(client_http, EMAIL, PASSWORD)
    laptop = await client.login(client_http, EMAIL, PASSWORD)
    created = await client_http.post("/v1/vault/items", json=item_body(), headers=phone.auth_header)
    path = f"/v1/vault/items/{created.json()['id']}"
    for login in (phone, laptop):
        assert (await client_http.get(path, headers=login.auth_header)).status_code == 200
        assert (await client_http.get("/v1/vault/sync", headers=login.auth_header)).is_success

    revoked = await client_http.delete(
        f"/v1/account/sessions/{phone.session_id}", headers=laptop.auth_header
    )
    assert revoked.status_code == 204
    for route in (path, "/v1/vault/sync"):
        refused = await client_http.get(route, headers=phone.auth_header)
        assert (refused.status_code, refused.json()["code"]) == (401, "invalid_token")

    async with runtime_of(client_http).sessionmaker() as session:
        await session.execute(update(AccountRow).values(status="disabled"))
        await session.commit()
    for route in (path, "/v1/vault/sync"):
        refused = await client_http.get(route, headers=laptop.auth_header)
        assert (refused.status_code, refused.json()["code"]) == (403, "account_disabled")


async def test_a_token_naming_another_accounts_session_reads_nothing(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    """A (validly signed) token whose `sid` is a live session of another
    account is refused, even for an item of the session's account."""
    from datetime import timedelta

    from tests.api.conftest import runtime_of
    from vaultapi.crypto.tokens import issue_access_token
    from vaultapi.db.types import utcnow

    alice_login = await client.login(client_http, EMAIL, PASSWORD)
    created = await client_http.post(
        "/v1/vault/items", json=item_body(), headers=alice_login.auth_header
    )
    await client.register(client_http, "mallory@example.com", PASSWORD, kdf=MINIMUM_KDF)
    mallory = await client.login(client_http, "mallory@example.com", PASSWORD)
    forged, _ = issue_access_token(
        runtime_of(client_http).token_keys,
        account_id=mallory.account_id,
        session_id=alice_login.session_id,
        role="user",
        issuer="vaultapi",
        audience="vaultapi",
        ttl=timedelta(minutes=5),
        now=utcnow(),
    )
    refused = await client_http.get(
        f"/v1/vault/items/{created.json()['id']}", headers={"Authorization": f"Bearer {forged}"}
    )
    assert (refused.status_code, refused.json()["code"]) == (401, "invalid_token")
