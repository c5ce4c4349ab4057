"""Vault SQL. Every method takes the owner's account id and filters on it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    Executable,
    Integer,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    select,
    update,
)
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
from vaultapi.db.types import UTCDateTime

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


def _bump(dialect: str) -> Executable:
    upsert = postgresql.insert(_V) if dialect == "postgresql" else sqlite.insert(_V)
    return (
        upsert.values(account_id=_OWNER, revision=1)
        .on_conflict_do_update(index_elements=["account_id"], set_={"revision": _V.c.revision + 1})
        .returning(_V.c.revision)
    )


_BUMP = Query(_bump)

# Parameter names differ from the columns of the tables written: SQLAlchemy's
# own execution (SQLite, ORM sessions) would take a parameter named like a
# column of an INSERT or UPDATE as a value to set.
_ITEM: BindParameter[uuid.UUID] = bindparam("item", type_=_I.c.id.type)
_EXPECTED: BindParameter[int] = bindparam("expected", type_=_I.c.revision.type)
_NOW: BindParameter[datetime] = bindparam("now", type_=UTCDateTime())
_THIS_ITEM = and_(_I.c.account_id == _OWNER, _I.c.id == _ITEM)
_AT_EXPECTED = and_(_THIS_ITEM, _I.c.revision == _EXPECTED)
_RETURNED = tuple(_I.c[name] for name in ITEM_COLUMNS)

_ITEM_REVISION = Query(select(_I.c.revision).where(_THIS_ITEM))
_FOLDER_EXISTS = Query(
    select(_F.c.id).where(_F.c.account_id == _OWNER, _F.c.id == bindparam("folder"))
)
_CREATE_CHECKS = Query(
    select(
        exists()
        .where(_F.c.account_id == _OWNER, _F.c.id == bindparam("folder"))
        .label("folder_found"),
        exists().where(_I.c.id == _ITEM).label("item_taken"),
        exists().where(_F.c.id == _ITEM).label("folder_taken"),
        exists().where(_TS.c.account_id == _OWNER, _TS.c.object_id == _ITEM).label("tombstoned"),
        select(func.count())
        .select_from(_I)
        .where(_I.c.account_id == _OWNER)
        .scalar_subquery()
        .label("items"),
    )
)
_NEW_ITEM = {
    "type": bindparam("new_type", type_=_I.c.type.type),
    "key": bindparam("new_key", type_=_I.c.key.type),
    "data": bindparam("new_data", type_=_I.c.data.type),
    "folder_id": bindparam("new_folder", type_=_I.c.folder_id.type),
    "favorite": bindparam("new_favorite", type_=_I.c.favorite.type),
}
_CHANGE: BindParameter[int] = bindparam("change", type_=_I.c.changed_in.type)


def _insert_item(dialect: str) -> Executable:
    upsert = postgresql.insert(_I) if dialect == "postgresql" else sqlite.insert(_I)
    return (
        upsert.values(
            id=_ITEM,
            account_id=_OWNER,
            **_NEW_ITEM,
            revision=1,
            changed_in=_CHANGE,
            created_at=_NOW,
            updated_at=_NOW,
        )
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(*_RETURNED)
    )


_INSERT_ITEM = Query(_insert_item)
_FORGET_TOMBSTONE = Query(delete(_TS).where(_TS.c.account_id == _OWNER, _TS.c.object_id == _ITEM))
_IV = sa_table(VaultItemVersion)
_VERSIONED = ("type", "key", "data", "folder_id", "favorite")
"""An item's own fields, which a history version keeps."""
_SAVE_VERSION = Query(
    insert(_IV).from_select(
        ["item_id", "account_id", "revision", *_VERSIONED, "replaced_at"],
        select(
            _I.c.id, _I.c.account_id, _I.c.revision, *(_I.c[name] for name in _VERSIONED), _NOW
        ).where(_AT_EXPECTED),
    )
)


def _versions_beyond(item: Any, keep: Any) -> Any:
    """The ids of `item`'s versions (the owner's) after the `keep` newest."""
    return (
        select(_IV.c.id)
        .where(_IV.c.item_id == item, _IV.c.account_id == _OWNER)
        .order_by(_IV.c.revision.desc())
        .offset(keep)
        .scalar_subquery()
    )


_PRUNE_VERSIONS = Query(
    delete(_IV).where(_IV.c.id.in_(_versions_beyond(_ITEM, bindparam("keep", type_=Integer()))))
)
_TOUCHED = {"revision": _I.c.revision + 1, "changed_in": _CHANGE, "updated_at": _NOW}
_UPDATE_ITEM = Query(
    update(_I).where(_AT_EXPECTED).values(**_NEW_ITEM, **_TOUCHED).returning(*_RETURNED)
)
_TRASH_ITEM = Query(
    update(_I)
    .where(_AT_EXPECTED, _I.c.deleted_at.is_(None))
    .values(deleted_at=_NOW, **_TOUCHED)
    .returning(*_RETURNED)
)
_TOUCH_ITEM = Query(update(_I).where(_AT_EXPECTED).values(**_TOUCHED).returning(*_RETURNED))
_RESTORE_ITEM = Query(
    update(_I).where(_AT_EXPECTED).values(deleted_at=None, **_TOUCHED).returning(*_RETURNED)
)


class ItemWrites:
    """The single-item writes (create, update, trash, restore) as prepared
    statements on a `Db` (`vaultapi.db.direct`), merged where both databases
    allow: the history version is copied from the current row by one
    `INSERT … SELECT`, an update answers its row with `RETURNING`, and a
    create learns of a racing duplicate id from `ON CONFLICT DO NOTHING`
    instead of a savepoint. Each statement that changes an item names the
    revision it expects: no row back means missing or stale, which
    `revision` then tells apart (only on that error path). Rows have the
    fields of `schemas.Item`."""

    def __init__(self, db: Db) -> None:
        self.db = db

    async def bump(self, owner: uuid.UUID) -> int:
        """`VaultRepository.bump`: the next revision, and the account's write lock."""
        return await bump_revision(self.db, owner)

    async def revision(self, owner: uuid.UUID, item_id: uuid.UUID) -> int | None:
        row = await self.db.fetchrow(_ITEM_REVISION, owner=owner, item=item_id)
        return int(row["revision"]) if row else None

    async def folder_exists(self, owner: uuid.UUID, folder_id: uuid.UUID) -> bool:
        return await self.db.fetchrow(_FOLDER_EXISTS, owner=owner, folder=folder_id) is not None

    async def create_checks(
        self, owner: uuid.UUID, item_id: uuid.UUID, folder_id: uuid.UUID | None
    ) -> Row:
        """What a create must know first, in one statement: `folder_found`
        (whether `folder_id` is one of `owner`'s folders), `item_taken` and
        `folder_taken` (whether `item_id` is the id of an item or a folder
        of any account), `tombstoned` (whether `owner` purged an object of
        that id), and `items`, how many items `owner` has."""
        row = await self.db.fetchrow(_CREATE_CHECKS, owner=owner, item=item_id, folder=folder_id)
        assert row is not None  # noqa: S101 - a SELECT without FROM has one row
        return row

    async def insert(
        self,
        owner: uuid.UUID,
        item_id: uuid.UUID,
        fields: dict[str, Any],
        changed_in: int,
        now: datetime,
    ) -> Row | None:
        """The new item's row (`fields` as for `update`); None when its id
        was taken meanwhile."""
        return await self.db.fetchrow(
            _INSERT_ITEM, owner=owner, item=item_id, **fields, change=changed_in, now=now
        )

    async def forget_tombstone(self, owner: uuid.UUID, object_id: uuid.UUID) -> None:
        """An id used again after a purge is alive again."""
        await self.db.execute(_FORGET_TOMBSTONE, owner=owner, item=object_id)

    async def save_version(
        self, owner: uuid.UUID, item_id: uuid.UUID, expected: int, now: datetime
    ) -> bool:
        """Copy the item, if at `expected`, into its history; False if it is not."""
        saved = await self.db.execute(
            _SAVE_VERSION, owner=owner, item=item_id, expected=expected, now=now
        )
        return saved == 1

    async def prune_versions(self, owner: uuid.UUID, item_id: uuid.UUID, keep: int) -> None:
        await self.db.execute(_PRUNE_VERSIONS, owner=owner, item=item_id, keep=keep)

    async def update(
        self,
        owner: uuid.UUID,
        item_id: uuid.UUID,
        expected: int,
        fields: dict[str, Any],
        changed_in: int,
        now: datetime,
    ) -> Row | None:
        """Set the item's own fields (`fields`: `new_type`, `new_key`,
        `new_data`, `new_folder`, `new_favorite`) and +1 the revision, if the
        item is at `expected`."""
        return await self.db.fetchrow(
            _UPDATE_ITEM,
            owner=owner,
            item=item_id,
            expected=expected,
            **fields,
            change=changed_in,
            now=now,
        )

    async def trash(
        self, owner: uuid.UUID, item_id: uuid.UUID, expected: int, changed_in: int, now: datetime
    ) -> Row | None:
        """Into the trash since `now`, if at `expected` and not there yet."""
        return await self.db.fetchrow(
            _TRASH_ITEM, owner=owner, item=item_id, expected=expected, change=changed_in, now=now
        )

    async def touch(
        self, owner: uuid.UUID, item_id: uuid.UUID, expected: int, changed_in: int, now: datetime
    ) -> Row | None:
        """A change of nothing but the revision (trashing what is in the trash)."""
        return await self.db.fetchrow(
            _TOUCH_ITEM, owner=owner, item=item_id, expected=expected, change=changed_in, now=now
        )

    async def restore(
        self, owner: uuid.UUID, item_id: uuid.UUID, expected: int, changed_in: int, now: datetime
    ) -> Row | None:
        return await self.db.fetchrow(
            _RESTORE_ITEM, owner=owner, item=item_id, expected=expected, change=changed_in, now=now
        )


async def bump_revision(db: Db, owner: uuid.UUID) -> int:
    """The next vault revision; holds the account's vault row until commit,
    so one account's writes happen one at a time, in revision order."""
    row = await db.fetchrow(_BUMP, owner=owner)
    assert row is not None  # noqa: S101 - an upsert with RETURNING answers its row
    return int(row["revision"])


class VaultRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _insert(self, model: Any) -> postgresql.Insert | sqlite.Insert:
        return upsert_insert(self.session, model)

    # -- the account's revision -------------------------------------------------

    async def bump(self, owner: uuid.UUID) -> int:
        """`bump_revision` in this session's transaction."""
        return await bump_revision(Db.of_session(self.session), owner)

    async def lock(self, owner: uuid.UUID) -> None:
        """The account's write lock, as `bump` takes it, without a new
        revision: for a writer that may find nothing to change. (An account
        with items has its vault row: every write bumps first.)"""
        await self.session.execute(
            select(col(Vault.account_id)).where(col(Vault.account_id) == owner).with_for_update()
        )

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
