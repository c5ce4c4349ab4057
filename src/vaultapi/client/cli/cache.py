"""The local copy of the vault: the server's ciphertext, never plaintext.

`$VAULT_CLI_HOME/cache.json` (0600 in a 0700 directory, written atomically)
holds exactly what the server answered to `GET /v1/vault/sync` — items and
folders still encrypted under keys that only the account key unwraps — plus
the sync cursor and the account's KDF parameters and wrapped account key (as
`GET /v1/account` gives them) so that `--offline` can unlock without the
server. Someone who copies the file has what a copy of the server's database
row would give them: an offline guessing attack on the master password
through Argon2id, nothing more. Decrypted items exist in memory only.

The cache belongs to one login (server, e-mail, account): a different one
starts afresh, and `vault logout` deletes it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vaultapi.client.cli import store

FORMAT = 1


@dataclass
class Cache:
    server: str
    email: str
    account: dict[str, Any] = field(default_factory=dict)
    cursor: int | None = None
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)

    def belongs_to(self, server: str, email: str, account_id: str | None) -> bool:
        if (self.server, self.email) != (server, email):
            return False
        return account_id is None or self.account.get("id") == account_id

    def apply(self, body: dict[str, Any]) -> int:
        """Merge a sync answer; returns how many objects changed."""
        if body["full"]:
            self.items.clear()
            self.folders.clear()
        for raw in body["items"]:
            self.items[str(raw["id"])] = raw
        for raw in body["folders"]:
            self.folders[str(raw["id"])] = raw
        for tombstone in body["tombstones"]:
            gone = str(tombstone["id"])
            self.items.pop(gone, None)
            self.folders.pop(gone, None)
        self.cursor = int(body["revision"])
        return len(body["items"]) + len(body["folders"]) + len(body["tombstones"])

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "server": self.server,
                "email": self.email,
                "account": self.account,
                "cursor": self.cursor,
                "items": self.items,
                "folders": self.folders,
            },
            separators=(",", ":"),
        )


def path() -> Path:
    return store.home() / store.CACHE_FILE_NAME


def load(server: str, email: str, account_id: str | None = None) -> Cache | None:
    """The cache of this login, or None (missing, unreadable, or another login's)."""
    try:
        data = json.loads(path().read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            return None
        cache = Cache(
            server=str(data["server"]),
            email=str(data["email"]),
            account=dict(data["account"]),
            cursor=None if data["cursor"] is None else int(data["cursor"]),
            items=dict(data["items"]),
            folders=dict(data["folders"]),
        )
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # unreadable: a full sync rebuilds it
    return cache if cache.belongs_to(server, email, account_id) else None


def save(cache: Cache) -> None:
    store.write_private(store.CACHE_FILE_NAME, cache.to_json())
