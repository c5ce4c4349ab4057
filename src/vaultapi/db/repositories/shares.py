"""Shares and their access log. Owner routes go through the `*_owned`
methods, which take the owner's id; the anonymous open path locks the row
by id alone (`SELECT … FOR UPDATE`), which is the point of a share."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from vaultapi.db.models import Share, ShareAccess
from vaultapi.db.repositories import rowcount


class ShareRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, share: Share) -> None:
        self.session.add(share)
        await self.session.flush()

    async def exists(self, share_id: uuid.UUID) -> bool:
        found = await self.session.execute(select(col(Share.id)).where(col(Share.id) == share_id))
        return found.first() is not None

    async def count_owned(self, owner_id: uuid.UUID) -> int:
        result = await self.session.execute(
            select(func.count()).select_from(Share).where(col(Share.account_id) == owner_id)
        )
        return int(result.scalar_one())

    async def list_owned(self, owner_id: uuid.UUID) -> Sequence[Share]:
        result = await self.session.execute(
            select(Share)
            .where(col(Share.account_id) == owner_id)
            .order_by(col(Share.created_at).desc(), col(Share.id))
        )
        return result.scalars().all()

    async def get_owned(
        self, owner_id: uuid.UUID, share_id: uuid.UUID, *, for_update: bool = False
    ) -> Share | None:
        statement = select(Share).where(
            col(Share.account_id) == owner_id, col(Share.id) == share_id
        )
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def lock_for_open(self, share_id: uuid.UUID) -> Share | None:
        """The share, locked until the transaction ends: concurrent opens of
        one share (on any worker) are decided one after the other, so views and
        failed proofs are counted exactly. (SQLite: BEGIN IMMEDIATE already
        serializes writers; FOR UPDATE is a no-op there.)"""
        statement = (
            select(Share)
            .where(col(Share.id) == share_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def purge_expired(self, now: datetime) -> int:
        result = await self.session.execute(delete(Share).where(col(Share.expires_at) <= now))
        return rowcount(result)


class ShareAccessRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(self, share_id: uuid.UUID, ip: str, outcome: str, now: datetime) -> None:
        self.session.add(ShareAccess(at=now, share_id=share_id, ip=ip[:45], outcome=outcome))
        await self.session.flush()

    async def for_share(self, share_id: uuid.UUID) -> Sequence[ShareAccess]:
        result = await self.session.execute(
            select(ShareAccess)
            .where(col(ShareAccess.share_id) == share_id)
            .order_by(col(ShareAccess.at), col(ShareAccess.id))
        )
        return result.scalars().all()

    async def purge_before(self, before: datetime) -> int:
        result = await self.session.execute(delete(ShareAccess).where(col(ShareAccess.at) < before))
        return rowcount(result)
