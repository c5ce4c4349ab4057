"""The response headers the contract documents are the ones the server sends.

A walk through the API with real requests (the ASGI app on PostgreSQL, real
migrations) records, per operation and status, the headers of each response.
Apart from the headers every response carries (described once, in the API
description), each one must be documented on that response, and each header
documented on a response that was seen must have been sent: the `ETag` of an
item, the `Location` of a created share, the `Retry-After` of a 429.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.test_admin import make_admin
from tests.conftest import ClientFactory
from vaultapi import client
from vaultapi.crypto.kdf import MINIMUM_KDF
from vaultapi.schemas import examples as ex

DOCUMENT = json.loads(
    (Path(__file__).parent.parent / "openapi" / "openapi.json").read_text(encoding="utf-8")
)
PASSWORD = "correct horse battery staple"

# On every response (RequestContextMiddleware, the server, HTTP itself):
# described once in the API description, not on each response.
EVERY_RESPONSE = {
    "content-type",
    "content-length",
    "date",
    "server",
    "x-request-id",
    "cache-control",
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
    "cross-origin-opener-policy",
    "cross-origin-resource-policy",
    "permissions-policy",
    "content-security-policy",
    "strict-transport-security",
}


@dataclass
class Recorder:
    """Calls the API by operation and remembers what each response carried."""

    http: httpx.AsyncClient
    seen: dict[tuple[str, str, str], set[str]] = field(default_factory=dict)

    async def call(self, method: str, template: str, expect: int, **kwargs: Any) -> httpx.Response:
        path = template.format(**kwargs.pop("path", {}))
        response = await self.http.request(method, path, **kwargs)
        assert response.status_code == expect, (method, path, response.text)
        key = (method.lower(), template, str(response.status_code))
        self.seen.setdefault(key, set()).update(response.headers.keys())
        return response


def documented(method: str, template: str, status: str) -> set[str]:
    response = DOCUMENT["paths"][template][method]["responses"][status]
    return {name.lower() for name in response.get("headers", {})}


@pytest.fixture
async def recorder(make_postgresql_client: ClientFactory) -> AsyncIterator[Recorder]:
    async with make_postgresql_client(shares={"ip_opens_per_window": 1}) as http:
        yield Recorder(http)


async def walk(api: Recorder) -> None:
    """One call (or a few) per header-carrying response, and some without."""
    http = api.http
    await api.call("GET", "/healthz", 200)
    await api.call("GET", "/readyz", 200)
    await api.call("GET", "/v1/server", 200)
    await api.call("POST", "/v1/auth/prelogin", 200, json={"email": ex.EMAIL})
    await client.register(http, ex.EMAIL, PASSWORD, kdf=MINIMUM_KDF)
    login = await client.login(http, ex.EMAIL, PASSWORD)
    auth = login.auth_header

    await api.call("GET", "/v1/account", 401)
    await api.call("GET", "/v1/account", 401, headers={"Authorization": "Bearer not-a-jwt"})
    await api.call("GET", "/v1/account", 200, headers=auth)

    folder = {"id": ex.FOLDER_ID, "name": ex.FOLDER_NAME}
    await api.call("POST", "/v1/vault/folders", 201, json=folder, headers=auth)
    await api.call("GET", "/v1/vault/folders", 200, headers=auth)
    folder_path = {"folder_id": ex.FOLDER_ID}
    await api.call(
        "PUT",
        "/v1/vault/folders/{folder_id}",
        200,
        path=folder_path,
        json={"name": ex.FOLDER_NAME},
        headers={**auth, "If-Match": '"1"'},
    )

    item = {"id": ex.ITEM_ID, "type": "login", "key": ex.ITEM_KEY, "data": ex.ITEM_DATA}
    created = await api.call("POST", "/v1/vault/items", 201, json=item, headers=auth)
    assert created.headers["location"] == f"/v1/vault/items/{ex.ITEM_ID}"
    item_path = {"item_id": ex.ITEM_ID}
    one = "/v1/vault/items/{item_id}"
    got = await api.call("GET", one, 200, path=item_path, headers=auth)
    etag = {**auth, "If-Match": got.headers["etag"]}
    fields = {key: item[key] for key in ("type", "key", "data")}
    updated = await api.call("PUT", one, 200, path=item_path, json=fields, headers=etag)
    etag = {**auth, "If-Match": updated.headers["etag"]}
    await api.call(
        "PUT", one, 412, path=item_path, json=fields, headers={**auth, "If-Match": '"1"'}
    )
    await api.call("PUT", one, 428, path=item_path, json=fields, headers=auth)
    trashed = await api.call("DELETE", one, 200, path=item_path, headers=etag)
    etag = {**auth, "If-Match": trashed.headers["etag"]}
    restored = await api.call("POST", one + "/restore", 200, path=item_path, headers=etag)
    await api.call("GET", one + "/history", 200, path=item_path, headers=auth)
    await api.call("GET", "/v1/vault/items", 200, headers=auth)
    await api.call(
        "POST",
        one + "/purge",
        204,
        path=item_path,
        headers={**auth, "If-Match": restored.headers["etag"]},
    )
    await api.call(
        "DELETE",
        "/v1/vault/folders/{folder_id}",
        204,
        path=folder_path,
        headers={**auth, "If-Match": '"2"'},
    )

    synced = await api.call("GET", "/v1/vault/sync", 200, headers=auth)
    await api.call(
        "GET", "/v1/vault/sync", 304, headers={**auth, "If-None-Match": synced.headers["etag"]}
    )
    await api.call("GET", "/v1/vault/export", 200, headers=auth)

    share = {"id": ex.SHARE_ID, "ciphertext": ex.SHARE_CIPHERTEXT, "expires_in_minutes": 60}
    share["max_views"] = 5
    made = await api.call("POST", "/v1/shares", 201, json=share, headers=auth)
    assert made.headers["location"] == f"/v1/shares/{ex.SHARE_ID}"
    share_path = {"share_id": ex.SHARE_ID}
    await api.call("GET", "/v1/shares/{share_id}", 200, path=share_path, headers=auth)
    await api.call("POST", "/v1/shares/{share_id}/open", 200, path=share_path)
    limited = await api.call("POST", "/v1/shares/{share_id}/open", 429, path=share_path)
    assert int(limited.headers["retry-after"]) >= 1

    admin = (await make_admin(http)).auth_header
    await api.call("GET", "/v1/admin/auth-events", 200, headers=admin)
    await api.call("GET", "/v1/admin/auth-events/export", 200, headers=admin)
    await api.call("GET", "/v1/admin/accounts", 200, params={"status": "active"}, headers=admin)


async def test_sent_headers_are_documented_and_documented_headers_are_sent(
    recorder: Recorder,
) -> None:
    await walk(recorder)
    undocumented: dict[str, set[str]] = defaultdict(set)
    unsent: dict[str, set[str]] = defaultdict(set)
    for (method, template, status), sent in recorder.seen.items():
        where = f"{method.upper()} {template} {status}"
        declared = documented(method, template, status)
        if extra := (sent - EVERY_RESPONSE) - declared:
            undocumented[where] = extra
        if missing := declared - sent:
            unsent[where] = missing
    assert dict(undocumented) == {}
    assert dict(unsent) == {}
    # The walk reached every kind of documented header at least once.
    everything = set().union(*recorder.seen.values())
    assert {
        "etag",
        "location",
        "retry-after",
        "www-authenticate",
        "content-disposition",
    } <= everything


def test_headers_on_every_response_are_described_once() -> None:
    description = DOCUMENT["info"]["description"]
    for name in ("X-Request-ID", "Cache-Control", "Content-Security-Policy", "Retry-After"):
        assert name in description


def test_every_etag_response_documents_it() -> None:
    """Item and folder writes and reads, and sync, all answer with an ETag."""
    for method, template, status in [
        ("post", "/v1/vault/items", "201"),
        ("get", "/v1/vault/items/{item_id}", "200"),
        ("put", "/v1/vault/items/{item_id}", "200"),
        ("delete", "/v1/vault/items/{item_id}", "200"),
        ("post", "/v1/vault/items/{item_id}/restore", "200"),
        ("post", "/v1/vault/folders", "201"),
        ("put", "/v1/vault/folders/{folder_id}", "200"),
        ("get", "/v1/vault/sync", "200"),
        ("get", "/v1/vault/sync", "304"),
    ]:
        assert "etag" in documented(method, template, status), (method, template, status)
    for path_item in DOCUMENT["paths"].values():
        for operation in path_item.values():
            if "429" in operation["responses"]:
                assert "Retry-After" in operation["responses"]["429"]["headers"]
