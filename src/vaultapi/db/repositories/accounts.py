from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from vaultapi.db.models import Account


class EmailTakenError(Exception):
    pass


class AccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_email(self, email: str) -> Account | None:
        result = await self.session.execute(select(Account).where(col(Account.email) == email))
        return result.scalar_one_or_none()

    async def kdf_for(self, email: str) -> tuple[int, int, int, bytes] | None:
        """(memory_kib, iterations, parallelism, salt), without loading the row."""
        result = await self.session.execute(
            select(
                col(Account.kdf_memory_kib),
                col(Account.kdf_iterations),
                col(Account.kdf_parallelism),
                col(Account.kdf_salt),
            ).where(col(Account.email) == email)
        )
        row = result.one_or_none()
        return (row[0], row[1], row[2], row[3]) if row else None

    async def get(self, account_id: uuid.UUID) -> Account | None:
        return await self.session.get(Account, account_id)

    async def lock(self, account_id: uuid.UUID) -> None:
        """Hold the account row until the transaction ends (serializes logins
        of one account, so per-account limits are exact under concurrency)."""
        await self.session.execute(
            select(col(Account.id)).where(col(Account.id) == account_id).with_for_update()
        )

    async def add(self, account: Account) -> Account:
        """Insert; `EmailTakenError` when the e-mail exists (also under a race: the
        unique constraint decides, in a savepoint that keeps the request usable)."""
        try:
            async with self.session.begin_nested():
                self.session.add(account)
        except IntegrityError as exc:
            raise EmailTakenError from exc
        return account
