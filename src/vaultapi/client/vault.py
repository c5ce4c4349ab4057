"""The vault as a client sees it: decrypted items, encrypted on the wire.

Each item has its own random key. The item key travels wrapped under the
account key and the item's JSON under the item key, both with the item id
as AAD: a server that moves one item's ciphertext into another item (or
alters it) is caught here, on decryption, and refused loudly.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import httpx

from vaultapi.client.api import API, Login, ProblemError
from vaultapi.client.importers import ParsedImport
from vaultapi.crypto import CryptoError, encstring


class TamperedItemError(Exception):
    """An item's ciphertext does not belong to it: moved from another item, or altered."""


@dataclass
class Item:
    id: uuid.UUID
    type: str
    fields: dict[str, Any]
    folder_id: uuid.UUID | None = None
    favorite: bool = False
    revision: int = 0
    deleted_at: datetime | None = None


@dataclass
class Folder:
    id: uuid.UUID
    name: str
    revision: int = 0


class VaultKeys(Protocol):
    """What a vault needs from a login: the account key, and (for anything that
    talks to the server) a live access token. A `Login` is one; the CLI has its
    own, holding an access token from its stored session instead."""

    @property
    def account_key(self) -> bytes: ...

    @property
    def auth_header(self) -> dict[str, str]: ...


@dataclass
class Vault:
    """A logged-in vault with a local copy kept current by `sync()`."""

    http: httpx.AsyncClient
    login: Login | VaultKeys
    cursor: int | None = None
    items: dict[uuid.UUID, Item] = field(default_factory=dict)
    folders: dict[uuid.UUID, Folder] = field(default_factory=dict)

    # -- crypto -------------------------------------------------------------------

    def _seal(self, item_id: uuid.UUID, fields: dict[str, Any]) -> tuple[str, str]:
        item_key = secrets.token_bytes(32)
        aad = str(item_id)
        plaintext = json.dumps(fields, separators=(",", ":"), sort_keys=True).encode()
        return (
            encstring.encrypt(self.login.account_key, item_key, aad),
            encstring.encrypt(item_key, plaintext, aad),
        )

    def _open(self, raw: dict[str, Any]) -> Item:
        item_id = uuid.UUID(raw["id"])
        try:
            item_key = encstring.decrypt(self.login.account_key, raw["key"], str(item_id))
            fields = json.loads(encstring.decrypt(item_key, raw["data"], str(item_id)))
        except (CryptoError, ValueError) as exc:
            raise TamperedItemError(
                f"item {item_id}: its ciphertext does not belong to it (moved from another "
                "item or altered); refusing it"
            ) from exc
        return Item(
            id=item_id,
            type=raw["type"],
            fields=fields,
            folder_id=uuid.UUID(raw["folder_id"]) if raw.get("folder_id") else None,
            favorite=bool(raw["favorite"]),
            revision=int(raw["revision"]),
            deleted_at=datetime.fromisoformat(raw["deleted_at"]) if raw.get("deleted_at") else None,
        )

    def open_item(self, raw: dict[str, Any]) -> Item:
        """Decrypt an item as the server (or a cache of its answers) holds it."""
        return self._open(raw)

    def _open_folder(self, raw: dict[str, Any]) -> Folder:
        folder_id = uuid.UUID(raw["id"])
        try:
            name = encstring.decrypt(self.login.account_key, raw["name"], str(folder_id)).decode()
        except CryptoError as exc:
            raise TamperedItemError(f"folder {folder_id}: name does not belong to it") from exc
        return Folder(id=folder_id, name=name, revision=int(raw["revision"]))

    def open_folder(self, raw: dict[str, Any]) -> Folder:
        """Decrypt a folder as the server (or a cache of its answers) holds it."""
        return self._open_folder(raw)

    # -- HTTP ---------------------------------------------------------------------

    async def _request(
        self, method: str, path: str, *, json_body: Any = None, revision: int | None = None
    ) -> dict[str, Any]:
        headers = dict(self.login.auth_header)
        if revision is not None:
            headers["If-Match"] = f'"{revision}"'
        response = await self.http.request(method, API + path, json=json_body, headers=headers)
        if response.status_code >= 400:
            raise ProblemError(response.status_code, response.json())
        if response.status_code == 204:
            return {}
        result: dict[str, Any] = response.json()
        return result

    # -- items ----------------------------------------------------------------------

    async def add(
        self,
        fields: dict[str, Any],
        *,
        type: str = "login",
        folder_id: uuid.UUID | None = None,
        favorite: bool = False,
    ) -> Item:
        item_id = uuid.uuid4()
        key, data = self._seal(item_id, fields)
        raw = await self._request(
            "POST",
            "/vault/items",
            json_body={
                "id": str(item_id),
                "type": type,
                "key": key,
                "data": data,
                "folder_id": str(folder_id) if folder_id else None,
                "favorite": favorite,
            },
        )
        item = self._open(raw)
        self.items[item.id] = item
        return item

    async def get(self, item_id: uuid.UUID) -> Item:
        item = self._open(await self._request("GET", f"/vault/items/{item_id}"))
        self.items[item.id] = item
        return item

    async def update(self, item: Item) -> Item:
        """Send `item` as changed locally; 412 `stale_revision` if the server has
        a newer revision (sync, merge, retry)."""
        key, data = self._seal(item.id, item.fields)
        raw = await self._request(
            "PUT",
            f"/vault/items/{item.id}",
            json_body={
                "type": item.type,
                "key": key,
                "data": data,
                "folder_id": str(item.folder_id) if item.folder_id else None,
                "favorite": item.favorite,
            },
            revision=item.revision,
        )
        updated = self._open(raw)
        self.items[updated.id] = updated
        return updated

    async def trash(self, item: Item) -> Item:
        trashed = self._open(
            await self._request("DELETE", f"/vault/items/{item.id}", revision=item.revision)
        )
        self.items[trashed.id] = trashed
        return trashed

    async def restore(self, item: Item) -> Item:
        restored = self._open(
            await self._request("POST", f"/vault/items/{item.id}/restore", revision=item.revision)
        )
        self.items[restored.id] = restored
        return restored

    async def purge(self, item: Item) -> None:
        await self._request("POST", f"/vault/items/{item.id}/purge", revision=item.revision)
        self.items.pop(item.id, None)

    async def history(self, item_id: uuid.UUID) -> list[Item]:
        """The item's previous versions, newest first (`revision` is the one each
        version had; `deleted_at` is not kept in history)."""
        body = await self._request("GET", f"/vault/items/{item_id}/history")
        return [self._open({**raw, "id": str(item_id)}) for raw in body["versions"]]

    # -- folders --------------------------------------------------------------------

    async def add_folder(self, name: str) -> Folder:
        folder_id = uuid.uuid4()
        sealed = encstring.encrypt(self.login.account_key, name.encode(), str(folder_id))
        raw = await self._request(
            "POST", "/vault/folders", json_body={"id": str(folder_id), "name": sealed}
        )
        folder = self._open_folder(raw)
        self.folders[folder.id] = folder
        return folder

    async def rename_folder(self, folder: Folder, name: str) -> Folder:
        sealed = encstring.encrypt(self.login.account_key, name.encode(), str(folder.id))
        raw = await self._request(
            "PUT",
            f"/vault/folders/{folder.id}",
            json_body={"name": sealed},
            revision=folder.revision,
        )
        renamed = self._open_folder(raw)
        self.folders[renamed.id] = renamed
        return renamed

    async def delete_folder(self, folder: Folder) -> None:
        """Its items stay, in no folder."""
        await self._request("DELETE", f"/vault/folders/{folder.id}", revision=folder.revision)
        self.folders.pop(folder.id, None)

    # -- sync, import, export ---------------------------------------------------------

    async def sync(self) -> int:
        """Bring the local copy up to date; returns how many objects changed."""
        path = "/vault/sync" + (f"?since={self.cursor}" if self.cursor is not None else "")
        body = await self._request("GET", path)
        if body["full"]:
            self.items.clear()
            self.folders.clear()
        for raw in body["items"]:
            item = self._open(raw)
            self.items[item.id] = item
        for raw in body["folders"]:
            folder = self._open_folder(raw)
            self.folders[folder.id] = folder
        for tombstone in body["tombstones"]:
            gone = uuid.UUID(tombstone["id"])
            self.items.pop(gone, None)
            self.folders.pop(gone, None)
        self.cursor = int(body["revision"])
        return len(body["items"]) + len(body["folders"]) + len(body["tombstones"])

    async def import_items(self, entries: list[tuple[str, dict[str, Any]]]) -> int:
        """Import (type, fields) pairs in one atomic request."""
        items = []
        for item_type, fields in entries:
            item_id = uuid.uuid4()
            key, data = self._seal(item_id, fields)
            items.append({"id": str(item_id), "type": item_type, "key": key, "data": data})
        body = await self._request("POST", "/vault/import", json_body={"items": items})
        return int(body["items"])

    async def import_parsed(
        self, parsed: ParsedImport, *, progress: Callable[[int], None] | None = None
    ) -> int:
        """Encrypt a parsed export (importers.py) and send it as one atomic
        import, folders included. Returns the number of items imported.
        `progress(n)` is called as items are encrypted (for a progress bar)."""
        folder_ids = {name: uuid.uuid4() for name in parsed.folders}
        folders = [
            {
                "id": str(folder_id),
                "name": encstring.encrypt(self.login.account_key, name.encode(), str(folder_id)),
            }
            for name, folder_id in folder_ids.items()
        ]
        items = []
        for entry in parsed.items:
            item_id = uuid.uuid4()
            key, data = self._seal(item_id, entry.fields)
            folder_id = folder_ids.get(entry.folder) if entry.folder else None
            items.append(
                {
                    "id": str(item_id),
                    "type": entry.type,
                    "key": key,
                    "data": data,
                    "folder_id": str(folder_id) if folder_id else None,
                    "favorite": entry.favorite,
                }
            )
            if progress is not None:
                progress(1)
        body = await self._request(
            "POST", "/vault/import", json_body={"folders": folders, "items": items}
        )
        return int(body["items"])

    async def export(self) -> dict[str, Any]:
        """The server's export: still encrypted, openable with the password."""
        return await self._request("GET", "/vault/export")
