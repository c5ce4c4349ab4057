"""Vault SQL. Every method takes the owner's account id and filters on it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, and_, bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from vaultapi.db.direct import Db, Query, Row
from vaultapi.db.models import (
    Account,
    Session,
    Vault,
    VaultFolder,
    VaultItem,
    VaultItemVersion,
    VaultTombstone,
)
from vaultapi.db.repositories import rowcount, sa_table, upsert_insert

ITEM_COLUMNS = (
    "id",
    "type",
    "key",
    "data",
    "folder_id",
    "favorite",
    "revision",
    "created_at",
    "updated_at",
    "deleted_at",
)
"""The columns of `schemas.Item`."""

FOLDER_COLUMNS = ("id", "name", "revision", "created_at", "updated_at")
"""The columns of `schemas.Folder`."""

_I = sa_table(VaultItem)
_F = sa_table(VaultFolder)
_V = sa_table(Vault)
_TS = sa_table(VaultTombstone)
_OWNER: BindParameter[uuid.UUID] = bindparam("owner")
_SINCE: BindParameter[int] = bindparam("since")
_ITEMS = select(*(_I.c[name] for name in ITEM_COLUMNS)).where(_I.c.account_id == _OWNER)
_FOLDERS = select(*(_F.c[name] for name in FOLDER_COLUMNS)).where(_F.c.account_id == _OWNER)
_S = sa_table(Session)
_A = sa_table(Account)
_ITEM_IN_SESSION = Query(
    select(
        _S.c.account_id.label("session_account_id"),
        _A.c.status.label("account_status"),
        *(_I.c[name] for name in ITEM_COLUMNS),
    )
    .select_from(
        _S.join(_A, _A.c.id == _S.c.account_id).outerjoin(
            _I, and_(_I.c.account_id == _S.c.account_id, _I.c.id == bindparam("item_id"))
        )
    )
    .where(
        _S.c.id == bindparam("session_id"),
        _S.c.account_id == _OWNER,
        _S.c.revoked_at.is_(None),
        _S.c.expires_at > bindparam("now"),
    )
)
_REVISION = Query(select(_V.c.revision).where(_V.c.account_id == _OWNER))
_ALL_ITEMS = Query(_ITEMS.order_by(_I.c.id))
_ITEMS_SINCE = Query(_ITEMS.where(_I.c.changed_in > _SINCE).order_by(_I.c.id))
_ALL_FOLDERS = Query(_FOLDERS.order_by(_F.c.id))
_FOLDERS_SINCE = Query(_FOLDERS.where(_F.c.changed_in > _SINCE).order_by(_F.c.id))
_TOMBSTONES_SINCE = Query(
    select(_TS.c.object_id.label("id"), _TS.c.kind).where(
        _TS.c.account_id == _OWNER, _TS.c.changed_in > _SINCE
    )
)


class VaultReader:
    """The vault's hot reads (one item, sync) as prepared statements without
    ORM objects, on a `Db` (`vaultapi.db.direct`). Rows are mappings with the
    fields of `schemas.Item`, `schemas.Folder` and `schemas.Tombstone`."""

    def __init__(self, db: Db) -> None:
        self.db = db

    async def item_in_session(
        self, owner: uuid.UUID, session_id: uuid.UUID, item_id: uuid.UUID, now: datetime
    ) -> Row | None:
        """The hottest read, the session check included, in one statement: if
        `session_id` is a live session of `owner`, the account's status
        (`account_status`) with `owner`'s item `item_id` (item columns None
        when there is no such item); None when there is no such live session."""
        return await self.db.fetchrow(
            _ITEM_IN_SESSION, owner=owner, session_id=session_id, item_id=item_id, now=now
        )

    async def revision(self, owner: uuid.UUID) -> int:
        row = await self.db.fetchrow(_REVISION, owner=owner)
        return int(row["revision"]) if row else 0

    async def changed_items(self, owner: uuid.UUID, since: int | None) -> Sequence[Row]:
        """Items changed after `since` (all with None), by id."""
        if since is None:
            return await self.db.fetch(_ALL_ITEMS, owner=owner)
        return await self.db.fetch(_ITEMS_SINCE, owner=owner, since=since)

    async def changed_folders(self, owner: uuid.UUID, since: int | None) -> Sequence[Row]:
        if since is None:
            return await self.db.fetch(_ALL_FOLDERS, owner=owner)
        return await self.db.fetch(_FOLDERS_SINCE, owner=owner, since=since)

    async def tombstones(self, owner: uuid.UUID, since: int) -> Sequence[Row]:
        return await self.db.fetch(_TOMBSTONES_SINCE, owner=owner, since=since)


class VaultRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _insert(self, model: Any) -> postgresql.Insert | sqlite.Insert:
        return upsert_insert(self.session, model)

    # -- the account's revision -------------------------------------------------

    async def bump(self, owner: uuid.UUID) -> int:
        """The next vault revision; holds the account's vault row until commit,
        so one account's writes happen one at a time, in revision order."""
        insert = self._insert(Vault).values(account_id=owner, revision=1)
        statement = insert.on_conflict_do_update(
            index_elements=["account_id"], set_={"revision": col(Vault.revision) + 1}
        ).returning(col(Vault.revision))
        return int((await self.session.execute(statement)).scalar_one())

    # -- items ------------------------------------------------------------------

    async def count_items(self, owner: uuid.UUID) -> int:
        result = await self.session.execute(
            select(func.count()).select_from(VaultItem).where(col(VaultItem.account_id) == owner)
        )
        return int(result.scalar_one())

    async def item(self, owner: uuid.UUID, item_id: uuid.UUID) -> VaultItem | None:
        result = await self.session.execute(
            select(VaultItem).where(
                col(VaultItem.account_id) == owner, col(VaultItem.id) == item_id
            )
        )
        return result.scalar_one_or_none()

    async def ids_taken(self, ids: list[uuid.UUID]) -> set[uuid.UUID]:
        """Which of `ids` exist as an item or a folder, in any account."""
        taken: set[uuid.UUID] = set()
        for model in (VaultItem, VaultFolder):
            result = await self.session.execute(select(col(model.id)).where(col(model.id).in_(ids)))
            taken.update(result.scalars().all())
        return taken

    async def page(
        self, owner: uuid.UUID, *, after: uuid.UUID | None, limit: int, trashed: bool
    ) -> Sequence[VaultItem]:
        statement = select(VaultItem).where(col(VaultItem.account_id) == owner)
        statement = statement.where(
            col(VaultItem.deleted_at).is_not(None)
            if trashed
            else col(VaultItem.deleted_at).is_(None)
        )
        if after is not None:
            statement = statement.where(col(VaultItem.id) > after)
        result = await self.session.execute(statement.order_by(col(VaultItem.id)).limit(limit))
        return result.scalars().all()

    async def update_item(
        self, owner: uuid.UUID, item_id: uuid.UUID, expected_revision: int, values: dict[str, Any]
    ) -> VaultItem | None:
        """Apply `values` and +1 the revision, only if the item is still at
        `expected_revision`: of racing writers, exactly one gets a row back."""
        result = await self.session.execute(
            update(VaultItem)
            .where(
                col(VaultItem.account_id) == owner,
                col(VaultItem.id) == item_id,
                col(VaultItem.revision) == expected_revision,
            )
            .values(revision=col(VaultItem.revision) + 1, **values)
            .returning(VaultItem)
            # the row returned replaces the copy already loaded in this session
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        return result.scalar_one_or_none()

    async def delete_item(self, owner: uuid.UUID, item_id: uuid.UUID, expected: int) -> bool:
        result = await self.session.execute(
            delete(VaultItem).where(
                col(VaultItem.account_id) == owner,
                col(VaultItem.id) == item_id,
                col(VaultItem.revision) == expected,
            )
        )
        return rowcount(result) == 1

    async def unfile(self, owner: uuid.UUID, folder_id: uuid.UUID, changed_in: int) -> int:
        """Move a folder's items to no folder (each a change that syncs)."""
        result = await self.session.execute(
            update(VaultItem)
            .where(col(VaultItem.account_id) == owner, col(VaultItem.folder_id) == folder_id)
            .values(folder_id=None, revision=col(VaultItem.revision) + 1, changed_in=changed_in)
            .execution_options(synchronize_session=False)
        )
        return rowcount(result)

    # -- history ----------------------------------------------------------------

    async def add_version(self, version: VaultItemVersion, keep: int) -> None:
        self.session.add(version)
        await self.session.flush()
        stale = (
            select(col(VaultItemVersion.id))
            .where(col(VaultItemVersion.item_id) == version.item_id)
            .order_by(col(VaultItemVersion.revision).desc())
            .offset(keep)
        )
        await self.session.execute(
            delete(VaultItemVersion).where(col(VaultItemVersion.id).in_(stale.scalar_subquery()))
        )

    async def versions(self, owner: uuid.UUID, item_id: uuid.UUID) -> Sequence[VaultItemVersion]:
        result = await self.session.execute(
            select(VaultItemVersion)
            .where(
                col(VaultItemVersion.account_id) == owner,
                col(VaultItemVersion.item_id) == item_id,
            )
            .order_by(col(VaultItemVersion.revision).desc())
        )
        return result.scalars().all()

    # -- folders ----------------------------------------------------------------

    async def count_folders(self, owner: uuid.UUID) -> int:
        result = await self.session.execute(
            select(func.count())
            .select_from(VaultFolder)
            .where(col(VaultFolder.account_id) == owner)
        )
        return int(result.scalar_one())

    async def folder(self, owner: uuid.UUID, folder_id: uuid.UUID) -> VaultFolder | None:
        result = await self.session.execute(
            select(VaultFolder).where(
                col(VaultFolder.account_id) == owner, col(VaultFolder.id) == folder_id
            )
        )
        return result.scalar_one_or_none()

    async def changed_folders(self, owner: uuid.UUID, since: int | None) -> Sequence[VaultFolder]:
        statement = select(VaultFolder).where(col(VaultFolder.account_id) == owner)
        if since is not None:
            statement = statement.where(col(VaultFolder.changed_in) > since)
        return (await self.session.execute(statement.order_by(col(VaultFolder.id)))).scalars().all()

    async def update_folder(
        self, owner: uuid.UUID, folder_id: uuid.UUID, expected: int, values: dict[str, Any]
    ) -> VaultFolder | None:
        result = await self.session.execute(
            update(VaultFolder)
            .where(
                col(VaultFolder.account_id) == owner,
                col(VaultFolder.id) == folder_id,
                col(VaultFolder.revision) == expected,
            )
            .values(revision=col(VaultFolder.revision) + 1, **values)
            .returning(VaultFolder)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        return result.scalar_one_or_none()

    async def delete_folder(self, owner: uuid.UUID, folder_id: uuid.UUID, expected: int) -> bool:
        result = await self.session.execute(
            delete(VaultFolder).where(
                col(VaultFolder.account_id) == owner,
                col(VaultFolder.id) == folder_id,
                col(VaultFolder.revision) == expected,
            )
        )
        return rowcount(result) == 1

    # -- tombstones ---------------------------------------------------------------

    async def tombstone(
        self, owner: uuid.UUID, object_id: uuid.UUID, kind: str, changed_in: int, now: datetime
    ) -> None:
        insert = self._insert(VaultTombstone).values(
            object_id=object_id, account_id=owner, kind=kind, changed_in=changed_in, purged_at=now
        )
        await self.session.execute(
            insert.on_conflict_do_update(
                index_elements=["account_id", "object_id"],
                set_={"kind": kind, "changed_in": changed_in, "purged_at": now},
            )
        )

    async def forget_tombstones(self, owner: uuid.UUID, object_ids: list[uuid.UUID]) -> None:
        """Ids used again after a purge are alive again."""
        await self.session.execute(
            delete(VaultTombstone).where(
                col(VaultTombstone.account_id) == owner,
                col(VaultTombstone.object_id).in_(object_ids),
            )
        )
