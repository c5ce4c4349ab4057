from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from vaultapi.db.direct import Db, Query, Row
from vaultapi.db.models import Account
from vaultapi.db.repositories import sa_table
from vaultapi.db.repositories.mfa import second_factor_columns, second_factor_methods
from vaultapi.db.repositories.ratelimits import (
    Counter,
    RateLimitRepository,
    hit_and_read_two,
    hit_and_read_two_params,
    hit_and_read_two_result,
)


@dataclass(frozen=True, slots=True)
class LoginAccount:
    """The columns of `Account` that a login reads, named as there (no ORM object)."""

    id: uuid.UUID
    email: str
    role: str
    status: str
    kdf_memory_kib: int
    kdf_iterations: int
    kdf_parallelism: int
    kdf_salt: bytes
    srp_salt: bytes
    srp_verifier: bytes
    protected_account_key: str
    public_key: str
    protected_private_key: str

    @classmethod
    def of(cls, row: Row) -> LoginAccount:
        return cls(**{name: row[name] for name in _LOGIN_COLUMNS})


_A = sa_table(Account)
_LOGIN_COLUMNS = tuple(field.name for field in fields(LoginAccount))
_LOGIN_SELECT = select(*(_A.c[name] for name in _LOGIN_COLUMNS))
_BY_EMAIL = Query(_LOGIN_SELECT.where(_A.c.email == bindparam("email")))
_BY_ID = Query(_LOGIN_SELECT.where(_A.c.id == bindparam("id")))
_BY_ID_WITH_FACTORS = Query(
    _LOGIN_SELECT.add_columns(*second_factor_columns(_A.c.id))
    .where(_A.c.id == bindparam("id"))
    # PostgreSQL: FOR NO KEY UPDATE (SQLite's writer lock already serializes).
    .with_for_update(key_share=True)
)
_KDF = Query(
    select(_A.c.kdf_memory_kib, _A.c.kdf_iterations, _A.c.kdf_parallelism, _A.c.kdf_salt).where(
        _A.c.email == bindparam("email")
    )
)


def _counted_start_with_account(dialect: str) -> Any:
    """PostgreSQL: srp/start's count (`ratelimits.hit_and_read_two`, as a CTE)
    and the account of the e-mail, joined to its one row: one round trip.
    SQLite has no data-modifying CTEs."""
    if dialect != "postgresql":
        raise NotImplementedError(f"a PostgreSQL statement, not for {dialect}")
    counted = hit_and_read_two(dialect).cte("counted")
    return select(counted, *(_A.c[name] for name in _LOGIN_COLUMNS)).select_from(
        counted.outerjoin(_A, _A.c.email == bindparam("email"))
    )


_COUNTED_START_WITH_ACCOUNT = Query(_counted_start_with_account)
_LOGGED_IN = Query(
    update(_A).where(_A.c.id == bindparam("account")).values(last_login_at=bindparam("now"))
)


class LoginAccounts:
    """Account reads and writes of prelogin and login, on the direct path
    (`vaultapi.db.direct`)."""

    def __init__(self, db: Db) -> None:
        self.db = db

    async def by_email(self, email: str) -> LoginAccount | None:
        row = await self.db.fetchrow(_BY_EMAIL, email=email)
        return LoginAccount.of(row) if row else None

    async def counting_start(
        self,
        email: str,
        *,
        counter: str,
        checked: tuple[str, str],
        now: datetime,
        window: timedelta,
    ) -> tuple[Counter, dict[str, Counter], LoginAccount | None]:
        """`RateLimitRepository.hit_and_get(counter, checked)` and `by_email`,
        in one statement on PostgreSQL's direct path, one after the other
        elsewhere. Each is whole on its own: no transaction is needed."""
        if not self.db.on_asyncpg:
            started, live = await RateLimitRepository(self.db).hit_and_get(
                counter, checked, now=now, window=window
            )
            return started, live, await self.by_email(email)
        params = hit_and_read_two_params(counter, checked, now=now, window=window)
        row = await self.db.fetchrow(_COUNTED_START_WITH_ACCOUNT, email=email, **params)
        assert row is not None  # noqa: S101 - the upsert's one row, the account joined or not
        started, live = hit_and_read_two_result(row, checked)
        return started, live, LoginAccount.of(row) if row["id"] is not None else None

    async def get(self, account_id: uuid.UUID) -> LoginAccount | None:
        row = await self.db.fetchrow(_BY_ID, id=account_id)
        return LoginAccount.of(row) if row else None

    async def with_second_factors(
        self, account_id: uuid.UUID
    ) -> tuple[LoginAccount, list[str]] | None:
        """The account and the second factors its login needs (see
        `second_factor_methods`), in one statement: what a proof is checked
        against, and what decides between tokens and a second step. The row
        stays locked until the transaction ends, so logins of one account
        finish one after the other (exact session limit, `FinishedLogins`)."""
        row = await self.db.fetchrow(_BY_ID_WITH_FACTORS, id=account_id)
        return (LoginAccount.of(row), second_factor_methods(row)) if row else None

    async def kdf_for(self, email: str) -> tuple[int, int, int, bytes] | None:
        """(memory_kib, iterations, parallelism, salt), without loading the row."""
        row = await self.db.fetchrow(_KDF, email=email)
        if row is None:
            return None
        return (
            row["kdf_memory_kib"],
            row["kdf_iterations"],
            row["kdf_parallelism"],
            row["kdf_salt"],
        )

    async def logged_in(self, account_id: uuid.UUID, now: datetime) -> None:
        """Record a login. The UPDATE also holds the account row until commit,
        which serializes concurrent logins of one account (exact session limits)."""
        await self.db.execute(_LOGGED_IN, account=account_id, now=now)


class EmailTakenError(Exception):
    pass


class AccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, account_id: uuid.UUID) -> Account | None:
        return await self.session.get(Account, account_id)

    async def lock(self, account_id: uuid.UUID) -> None:
        """Hold the account row until the transaction ends (serializes changes
        to one account's second factors, so per-account limits are exact)."""
        await self.session.execute(select(_A.c.id).where(_A.c.id == account_id).with_for_update())

    async def add(self, account: Account) -> Account:
        """Insert; `EmailTakenError` when the e-mail exists (also under a race: the
        unique constraint decides, in a savepoint that keeps the request usable)."""
        try:
            async with self.session.begin_nested():
                self.session.add(account)
        except IntegrityError as exc:
            raise EmailTakenError from exc
        return account
