"""Unlocking the vault for one command.

The stored session (store.py) holds a refresh token, never a key. A command
that reads or writes items asks for the master password, derives the wrap
key with the account's Argon2id parameters and unwraps the account key from
`GET /v1/account` (or from the cache with `--offline`). The key lives in this
process's memory for the one command, and is never written anywhere.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from vaultapi.client.api import API, ClientError, ProblemError, unwrap_account_key
from vaultapi.client.cli import cache, store
from vaultapi.client.cli.common import http, progress_bar
from vaultapi.client.cli.session import AccessToken, fresh_token, require_session
from vaultapi.client.vault import Folder, Item, Vault


class OfflineError(ClientError):
    """An --offline command tried to reach the server."""


@dataclass
class CommandKeys:
    """The account key and, when online, this command's access token."""

    account_key: bytes
    token: AccessToken | None

    @property
    def auth_header(self) -> dict[str, str]:
        if self.token is None:
            raise OfflineError("this needs the server: run it without --offline")
        return self.token.auth_header


@dataclass
class Unlocked:
    """An unlocked vault, its items decrypted in memory from the cache."""

    saved: store.StoredSession
    http: httpx.AsyncClient
    keys: CommandKeys
    vault: Vault
    cache: cache.Cache

    def items(self, *, trashed: bool = False) -> list[Item]:
        chosen = [
            item for item in self.vault.items.values() if (item.deleted_at is not None) == trashed
        ]
        return sorted(chosen, key=lambda item: (item_name(item).lower(), str(item.id)))

    def folders(self) -> list[Folder]:
        return sorted(self.vault.folders.values(), key=lambda f: (f.name.lower(), str(f.id)))

    async def sync(self) -> int:
        """Delta sync from the cache's cursor (everything on the first run),
        saved at once; then the items are decrypted afresh."""
        since = f"?since={self.cache.cursor}" if self.cache.cursor is not None else ""
        response = await self.http.get(API + "/vault/sync" + since, headers=self.keys.auth_header)
        if response.status_code >= 400:
            raise ProblemError(response.status_code, response.json())
        changed = self.cache.apply(response.json())
        cache.save(self.cache)
        self.decrypt()
        return changed

    def decrypt(self) -> None:
        """Every cached item and folder, decrypted into `vault` (a tampered one
        raises: the server is not trusted with their integrity)."""
        self.vault.items.clear()
        self.vault.folders.clear()
        with progress_bar() as progress:
            task = progress.add_task("Decrypting", total=len(self.cache.items))
            for raw in self.cache.items.values():
                item = self.vault.open_item(raw)
                self.vault.items[item.id] = item
                progress.advance(task)
        for raw in self.cache.folders.values():
            folder = self.vault.open_folder(raw)
            self.vault.folders[folder.id] = folder
        self.vault.cursor = self.cache.cursor


def item_name(item: Item) -> str:
    return str(item.fields.get("name") or "")


async def _account(http_client: httpx.AsyncClient, token: AccessToken) -> dict[str, Any]:
    response = await http_client.get(API + "/account", headers=token.auth_header)
    if response.status_code != 200:
        raise ProblemError(response.status_code, response.json())
    body: dict[str, Any] = response.json()
    return body


@asynccontextmanager
async def unlocked(password: str, *, offline: bool = False) -> AsyncIterator[Unlocked]:
    """The vault of the stored session, unlocked with `password` and synced
    (delta) unless `offline`, in which case only the cache is read."""
    saved = require_session()
    async with http(saved.server) as http_client:
        if offline:
            local = cache.load(saved.server, saved.email)
            if local is None or not local.account:
                raise ClientError("no local copy of the vault yet: run `vault sync` first")
            account_key = await unwrap_account_key(
                password, local.account["kdf"], local.account["protected_account_key"]
            )
            keys = CommandKeys(account_key, None)
        else:
            token = await fresh_token(http_client, saved)
            account = await _account(http_client, token)
            account_id = str(account["id"])
            wrapped = str(account["keys"]["protected_account_key"])
            account_key = await unwrap_account_key(password, account["kdf"], wrapped)
            local = cache.load(saved.server, saved.email, account_id) or cache.Cache(
                saved.server, saved.email
            )
            local.account = {
                "id": account_id,
                "kdf": account["kdf"],
                "protected_account_key": wrapped,
            }
            keys = CommandKeys(account_key, token)
        session = Unlocked(
            saved=saved,
            http=http_client,
            keys=keys,
            vault=Vault(http_client, keys),
            cache=local,
        )
        if offline:
            session.decrypt()
        else:
            await session.sync()
        yield session
