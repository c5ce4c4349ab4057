"""docs/protocol.md section 5.3 (items and folders) is what the server and the
reference client do: lowercase ids as AAD, the bytes of `key`, `data` and
folder `name`, ETags and If-Match, trash and delta sync with tombstones."""

from __future__ import annotations

import json
import uuid

import httpx

from tests.api.conftest import EMAIL, PASSWORD, Account
from vaultapi import client
from vaultapi.client.vault import Vault
from vaultapi.crypto import encstring


async def test_the_vault_section_of_the_protocol_doc(
    client_http: httpx.AsyncClient, alice: Account
) -> None:
    login = await client.login(client_http, EMAIL, PASSWORD)
    auth = login.auth_header
    account_key = login.account_key

    # The reference client's bytes: key and data under the documented keys and AAD.
    vault = Vault(client_http, login)
    fields = {"name": "caf\u00e9", "b": 1, "a": ["\u2713"]}
    item = await vault.add(fields, type="note")
    raw = (await client_http.get(f"/v1/vault/items/{item.id}", headers=auth)).json()
    item_key = encstring.decrypt(account_key, raw["key"], str(item.id))
    plaintext = encstring.decrypt(item_key, raw["data"], str(item.id))
    assert plaintext == b'{"a":["\\u2713"],"b":1,"name":"caf\\u00e9"}'
    assert json.loads(plaintext) == fields
    folder = await vault.add_folder("Work \u2713")
    raw_folder = (await client_http.get("/v1/vault/folders", headers=auth)).json()["folders"][0]
    name = encstring.decrypt(account_key, raw_folder["name"], str(folder.id))
    assert name == "Work \u2713".encode()

    # A client-chosen id comes back lowercase: that text is the AAD.
    upper = str(uuid.uuid4()).upper()
    sealed_key = encstring.encrypt(account_key, bytes(32), upper.lower())
    sealed_data = encstring.encrypt(bytes(32), b"{}", upper.lower())
    body = {"id": upper, "type": "login", "key": sealed_key, "data": sealed_data}
    created = await client_http.post("/v1/vault/items", json=body, headers=auth)
    assert created.status_code == 201
    item_id = created.json()["id"]
    assert item_id == upper.lower()
    assert created.headers["ETag"] == '"1"'
    assert created.json()["revision"] == 1

    start = (await client_http.get("/v1/vault/sync", headers=auth)).json()
    assert start["full"] is True
    cursor = start["revision"]

    # If-Match: required, well-formed, current.
    path = f"/v1/vault/items/{item_id}"
    change = {"type": "login", "key": sealed_key, "data": sealed_data}
    for if_match, status, code in (
        (None, 428, "precondition_required"),
        ("1", 400, "bad_request"),
        ('"7"', 412, "stale_revision"),
    ):
        headers = auth if if_match is None else {**auth, "If-Match": if_match}
        answer = await client_http.put(path, json=change, headers=headers)
        assert (answer.status_code, answer.json()["code"]) == (status, code)
    assert answer.json()["current_revision"] == 1
    updated = await client_http.put(path, json=change, headers={**auth, "If-Match": '"1"'})
    assert (updated.status_code, updated.headers["ETag"]) == (200, '"2"')

    # Trash keeps the item (deleted_at), a delta shows it; purge leaves a tombstone.
    trashed = await client_http.delete(path, headers={**auth, "If-Match": '"2"'})
    assert trashed.json()["deleted_at"] is not None
    delta = await client_http.get(f"/v1/vault/sync?since={cursor}", headers=auth)
    assert delta.json()["full"] is False
    assert [(i["id"], i["deleted_at"] is not None) for i in delta.json()["items"]] == [
        (item_id, True)
    ]
    purged = await client_http.post(f"{path}/purge", headers={**auth, "If-Match": '"3"'})
    assert purged.status_code == 204
    cursor = delta.json()["revision"]
    after = await client_http.get(f"/v1/vault/sync?since={cursor}", headers=auth)
    assert after.json()["tombstones"] == [{"id": item_id, "kind": "item"}]
    assert after.json()["items"] == []
    etag = after.headers["ETag"]
    assert etag == f'"{after.json()["revision"]}"'
    unchanged = await client_http.get(
        f"/v1/vault/sync?since={cursor}", headers={**auth, "If-None-Match": etag}
    )
    assert unchanged.status_code == 304

    # A cursor from the future gets everything.
    future = await client_http.get("/v1/vault/sync?since=999999", headers=auth)
    assert future.json()["full"] is True
