"""The vault: items and folders as opaque ciphertext, with revisions.

Writes take the account's vault revision first (`bump_revision`),
which serializes one account's writes; each object then records that revision
as `changed_in`, which is what delta sync compares. Updates, deletes,
restores and purges name the revision they were based on (If-Match): a stale
one is a 412 with the current revision, never a silent overwrite.

The single-item writes, the most frequent, run on the direct path
(`ItemWriter`, `vaultapi.db.direct`); folders, purge, import and export keep
the ORM session (`VaultService`), sharing the revision bump and the usage
count with it as one statement each.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from vaultapi.config import VaultSettings
from vaultapi.crypto import CryptoError, encstring
from vaultapi.db.direct import Db, Row
from vaultapi.db.models import VaultFolder, VaultItem, VaultItemVersion
from vaultapi.db.repositories.admin import UsageRepository, count_usage
from vaultapi.db.repositories.vault import ItemWrites, VaultReader, VaultRepository
from vaultapi.db.types import utcnow
from vaultapi.errors import (
    BadRequest,
    InvalidCiphertext,
    ItemExists,
    LimitReached,
    NotFound,
    StaleRevision,
)
from vaultapi.runtime import Runtime
from vaultapi.schemas import vault as schemas
from vaultapi.services.sessions import check_live, token_claims

ITEM_KEY_MAX = 256


@dataclass(frozen=True)
class SyncResult:
    """Rows as mappings with the fields of `schemas.Item`, `schemas.Folder`
    and `schemas.Tombstone`."""

    revision: int
    full: bool
    items: Sequence[Row]
    folders: Sequence[Row]
    tombstones: Sequence[Row]


def _check(name: str, value: str, max_length: int) -> None:
    try:
        encstring.check_shape(value, max_length=max_length)
    except CryptoError as exc:
        raise InvalidCiphertext(f"{name}: {exc}") from exc


def _stale(kind: str, current: int) -> StaleRevision:
    return StaleRevision(
        f"The {kind} is at revision {current}: fetch it, merge, and retry with that revision",
        extra={"current_revision": current},
    )


async def read_sync(reader: VaultReader, owner: uuid.UUID, since: int | None) -> SyncResult:
    """Everything changed after `since` (or everything). The revision is
    read first: a change committing meanwhile is either in this answer or
    after the returned cursor, never lost."""
    revision = await reader.revision(owner)
    full = since is None or since > revision  # a cursor from the future: start over
    cursor = None if full else since
    items = await reader.changed_items(owner, cursor)
    folders = await reader.changed_folders(owner, cursor)
    tombstones = [] if cursor is None else await reader.tombstones(owner, cursor)
    return SyncResult(revision, full, items, folders, tombstones)


async def read_item(db: Db, runtime: Runtime, access_token: str, item_id: uuid.UUID) -> Row:
    """`GET /items/{id}`: the caller is authenticated exactly like `CurrentDep`
    (token, live session, active account), and the item read from the
    caller's own vault, in one direct statement. Returns the item's row."""
    claims = token_claims(runtime, access_token)
    row = await VaultReader(db).item_in_session(
        claims.account_id, claims.session_id, item_id, utcnow()
    )
    check_live(
        claims,
        row["session_account_id"] if row else None,
        row["account_status"] if row else "",
    )
    if row is None or row["id"] is None:
        raise NotFound("No such item in this vault")
    return row


REVISION_MAX = 2**31 - 1
"""Revisions are 32-bit integers in the database: an If-Match above this one
can match no item, and as a statement parameter PostgreSQL would refuse it."""


async def _missing_or_stale(items: ItemWrites, owner: uuid.UUID, item_id: uuid.UUID) -> Exception:
    """Why a write that named an expected revision matched no row."""
    current = await items.revision(owner, item_id)
    if current is None:
        return NotFound("No such item in this vault")
    return _stale("item", current)


class ItemWriter:
    """Single-item writes on the direct path (`vaultapi.db.direct`): create,
    update, trash, restore, with the answers, limits, history, usage counts
    and tombstone handling of the ORM path they replace, in fewer statements
    (`ItemWrites`). Each takes the vault revision first (the account's write
    lock); an error rolls the whole request back. Returns the item's row."""

    def __init__(self, db: Db, settings: VaultSettings, owner: uuid.UUID) -> None:
        self.items = ItemWrites(db)
        self.db = db
        self.settings = settings
        self.owner = owner

    def _check_item(self, fields: schemas.ItemFields) -> None:
        _check("key", fields.key, ITEM_KEY_MAX)
        _check("data", fields.data, self.settings.max_item_bytes)

    async def _bump_expecting(self, item_id: uuid.UUID, expected: int) -> int:
        """The vault revision bump (the account's write lock) of a write that
        names the item's `expected` revision; one no revision can reach is
        answered at once, like any stale or missing one."""
        changed_in = await self.items.bump(self.owner)
        if expected > REVISION_MAX:
            raise await _missing_or_stale(self.items, self.owner, item_id)
        return changed_in

    async def create(self, request: schemas.ItemCreate) -> Row:
        self._check_item(request)
        changed_in = await self.items.bump(self.owner)
        found = await self.items.create_checks(self.owner, request.id, request.folder_id)
        if request.folder_id is not None and not found["folder_found"]:
            raise NotFound("No such folder in this vault")
        if found["item_taken"] or found["folder_taken"]:
            raise _taken([request.id])
        limit = self.settings.max_items
        if found["items"] + 1 > limit:
            raise LimitReached(f"This vault may hold at most {limit} items", extra={"limit": limit})
        now = utcnow()
        row = await self.items.insert(
            self.owner, request.id, _item_fields(request), changed_in, now
        )
        if row is None:  # another account took the id meanwhile (ids are global)
            raise ItemExists("An id exists already: generate new ids")
        if found["tombstoned"]:  # the id was purged once: its tombstone would drop it
            await self.items.forget_tombstone(self.owner, request.id)
        await count_usage(self.db, "items_created", now, self.owner)
        return row

    async def update(self, item_id: uuid.UUID, expected: int, request: schemas.ItemFields) -> Row:
        self._check_item(request)
        changed_in = await self._bump_expecting(item_id, expected)
        now = utcnow()
        keep = self.settings.history_versions
        # The item's own errors (404, 412) come before the folder's 404: the
        # revision is checked by the first statement that names it.
        if keep:
            if not await self.items.save_version(self.owner, item_id, expected, now):
                raise await _missing_or_stale(self.items, self.owner, item_id)
            await self.items.prune_versions(self.owner, item_id, keep)
        row = await self.items.update(
            self.owner, item_id, expected, _item_fields(request), changed_in, now
        )
        if row is None:  # without history, the first statement to check the revision
            raise await _missing_or_stale(self.items, self.owner, item_id)
        if request.folder_id is not None and not await self.items.folder_exists(
            self.owner, request.folder_id
        ):
            raise NotFound("No such folder in this vault")
        await count_usage(self.db, "items_updated", now, self.owner)
        return row

    async def trash(self, item_id: uuid.UUID, expected: int) -> Row:
        changed_in = await self._bump_expecting(item_id, expected)
        now = utcnow()
        row = await self.items.trash(self.owner, item_id, expected, changed_in, now)
        if row is not None:
            await count_usage(self.db, "items_deleted", now, self.owner)
            return row
        # In the trash already (a retry): a change all the same, not counted again.
        row = await self.items.touch(self.owner, item_id, expected, changed_in, now)
        if row is None:
            raise await _missing_or_stale(self.items, self.owner, item_id)
        return row

    async def restore(self, item_id: uuid.UUID, expected: int) -> Row:
        changed_in = await self._bump_expecting(item_id, expected)
        row = await self.items.restore(self.owner, item_id, expected, changed_in, utcnow())
        if row is None:
            raise await _missing_or_stale(self.items, self.owner, item_id)
        return row


def _item_fields(item: schemas.ItemFields) -> dict[str, Any]:
    """An item's own fields as the parameters of `ItemWrites.insert` and `update`."""
    return {
        "new_type": item.type.value,
        "new_key": item.key,
        "new_data": item.data,
        "new_folder": item.folder_id,
        "new_favorite": item.favorite,
    }


def _taken(ids: Sequence[uuid.UUID]) -> ItemExists:
    example = sorted(map(str, ids))
    return ItemExists(
        f"{len(ids)} id(s) already exist, e.g. {example[0]}: generate new ids",
        extra={"existing_ids": example[:20]},
    )


class VaultService:
    def __init__(self, session: AsyncSession, settings: VaultSettings, owner: uuid.UUID) -> None:
        self.repo = VaultRepository(session)
        self.reader = VaultReader(Db.of_session(session))
        self.usage = UsageRepository(session)
        self.settings = settings
        self.owner = owner

    async def _add(
        self,
        changed_in: int,
        *,
        folders: Sequence[schemas.FolderCreate] = (),
        items: Sequence[schemas.ItemCreate] = (),
    ) -> tuple[list[VaultFolder], list[VaultItem]]:
        """The one way objects enter a vault (single creates and imports): ids
        free, limits kept, tombstones of reused ids forgotten, rows inserted.

        The id check is the friendly path; ids are global and two accounts do
        not share a vault lock, so under a race the primary key decides (in a
        savepoint), and the answer is still 409."""
        ids = [f.id for f in folders] + [i.id for i in items]
        taken = await self.repo.ids_taken(ids)
        if taken:
            raise _taken(list(taken))
        await self._check_room(len(items), self.settings.max_items, "items", self.repo.count_items)
        await self._check_room(
            len(folders), self.settings.max_folders, "folders", self.repo.count_folders
        )
        now = utcnow()
        new_folders = [
            VaultFolder(
                id=f.id,
                account_id=self.owner,
                name=f.name,
                revision=1,
                changed_in=changed_in,
                created_at=now,
                updated_at=now,
            )
            for f in folders
        ]
        new_items = [
            VaultItem(
                id=i.id,
                account_id=self.owner,
                type=i.type.value,
                key=i.key,
                data=i.data,
                folder_id=i.folder_id,
                favorite=i.favorite,
                revision=1,
                changed_in=changed_in,
                created_at=now,
                updated_at=now,
            )
            for i in items
        ]
        await self.repo.forget_tombstones(self.owner, ids)
        try:
            async with self.repo.session.begin_nested():
                self.repo.session.add_all(new_folders)
                await self.repo.session.flush()  # folders first: items refer to them
                self.repo.session.add_all(new_items)
        except IntegrityError as exc:
            raise ItemExists("An id exists already: generate new ids") from exc
        return new_folders, new_items

    async def _check_room(
        self, adding: int, limit: int, what: str, count: Callable[[uuid.UUID], Awaitable[int]]
    ) -> None:
        if adding and await count(self.owner) + adding > limit:
            raise LimitReached(
                f"This vault may hold at most {limit} {what}", extra={"limit": limit}
            )

    # -- items ------------------------------------------------------------------

    async def item(self, item_id: uuid.UUID) -> VaultItem:
        item = await self.repo.item(self.owner, item_id)
        if item is None:
            raise NotFound("No such item in this vault")
        return item

    async def _current(self, item_id: uuid.UUID, expected: int) -> VaultItem:
        current = await self.item(item_id)
        if current.revision != expected:
            raise _stale("item", current.revision)
        return current

    async def purge_item(self, item_id: uuid.UUID, expected: int) -> None:
        """Gone for good (with its history); a tombstone tells syncing clients."""
        changed_in = await self.repo.bump(self.owner)
        await self._current(item_id, expected)
        await self.repo.delete_item(self.owner, item_id, expected)
        await self.repo.tombstone(self.owner, item_id, "item", changed_in, utcnow())

    async def history(self, item_id: uuid.UUID) -> list[VaultItemVersion]:
        await self.item(item_id)
        return list(await self.repo.versions(self.owner, item_id))

    async def page(self, *, after: uuid.UUID | None, limit: int, trashed: bool) -> list[VaultItem]:
        return list(await self.repo.page(self.owner, after=after, limit=limit, trashed=trashed))

    # -- folders ----------------------------------------------------------------

    async def create_folder(self, request: schemas.FolderCreate) -> VaultFolder:
        _check("name", request.name, self.settings.max_folder_name_bytes)
        changed_in = await self.repo.bump(self.owner)
        folders, _ = await self._add(changed_in, folders=[request])
        return folders[0]

    async def folders(self) -> list[VaultFolder]:
        return list(await self.repo.changed_folders(self.owner, None))

    async def _current_folder(self, folder_id: uuid.UUID, expected: int) -> VaultFolder:
        folder = await self.repo.folder(self.owner, folder_id)
        if folder is None:
            raise NotFound("No such folder in this vault")
        if folder.revision != expected:
            raise _stale("folder", folder.revision)
        return folder

    async def rename_folder(
        self, folder_id: uuid.UUID, expected: int, request: schemas.FolderFields
    ) -> VaultFolder:
        _check("name", request.name, self.settings.max_folder_name_bytes)
        changed_in = await self.repo.bump(self.owner)
        await self._current_folder(folder_id, expected)
        updated = await self.repo.update_folder(
            self.owner,
            folder_id,
            expected,
            {"name": request.name, "changed_in": changed_in, "updated_at": utcnow()},
        )
        assert updated is not None  # noqa: S101 - checked under the vault lock just above
        return updated

    async def delete_folder(self, folder_id: uuid.UUID, expected: int) -> int:
        """Delete the folder; its items move to no folder (never deleted with it).
        Returns how many items moved."""
        changed_in = await self.repo.bump(self.owner)
        await self._current_folder(folder_id, expected)
        moved = await self.repo.unfile(self.owner, folder_id, changed_in)
        await self.repo.delete_folder(self.owner, folder_id, expected)
        await self.repo.tombstone(self.owner, folder_id, "folder", changed_in, utcnow())
        return moved

    # -- bulk -------------------------------------------------------------------

    async def import_all(self, request: schemas.ImportRequest) -> tuple[int, int, int]:
        """All or nothing, as one vault revision. Returns (folders, items, revision)."""
        limit = self.settings.import_max_items
        if len(request.items) > limit or len(request.folders) > limit:
            raise LimitReached(
                f"Import at most {limit} items and {limit} folders per request",
                extra={"limit": limit},
            )
        for folder in request.folders:
            _check(f"folder {folder.id} name", folder.name, self.settings.max_folder_name_bytes)
        for item in request.items:
            _check(f"item {item.id} key", item.key, ITEM_KEY_MAX)
            _check(f"item {item.id} data", item.data, self.settings.max_item_bytes)
        ids = [f.id for f in request.folders] + [i.id for i in request.items]
        if len(set(ids)) != len(ids):
            raise BadRequest("An id appears twice in this import")

        changed_in = await self.repo.bump(self.owner)
        known_folders = {f.id for f in request.folders} | {
            f.id for f in await self.repo.changed_folders(self.owner, None)
        }
        for item in request.items:
            if item.folder_id is not None and item.folder_id not in known_folders:
                raise NotFound(f"Item {item.id} names folder {item.folder_id}, which is unknown")
        await self._add(changed_in, folders=request.folders, items=request.items)
        await self.usage.bump("items_created", utcnow(), self.owner, by=len(request.items))
        return len(request.folders), len(request.items), changed_in

    # -- sync -------------------------------------------------------------------

    async def sync(self, since: int | None) -> SyncResult:
        """`read_sync` in this request's ORM transaction (the export)."""
        return await read_sync(self.reader, self.owner, since)
