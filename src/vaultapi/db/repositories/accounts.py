from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import String, Uuid, and_, bindparam, delete, func, select, true, union_all, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Delete

from vaultapi.db.direct import Db, Query, Row
from vaultapi.db.models import Account, Session, SRPHandshake
from vaultapi.db.repositories import rowcount, sa_table
from vaultapi.db.repositories.mfa import second_factor_columns, second_factor_methods
from vaultapi.db.repositories.ratelimits import (
    Counter,
    RateLimitRepository,
    hit_and_read_two,
    hit_and_read_two_params,
    hit_and_read_two_result,
    locked_counter,
    locking,
)
from vaultapi.db.types import UTCDateTime


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
    srp_verifier_powers: bytes | None = None
    """Read by verify only (`take_handshake`, `with_second_factors`): for v^u."""

    @classmethod
    def of(cls, row: Row, columns: tuple[str, ...] | None = None) -> LoginAccount:
        return cls(**{name: row[name] for name in columns or _LOGIN_COLUMNS})


_A = sa_table(Account)
_S = sa_table(Session)
_VERIFY_COLUMNS = tuple(field.name for field in fields(LoginAccount))
_LOGIN_COLUMNS = tuple(name for name in _VERIFY_COLUMNS if name != "srp_verifier_powers")
_LOGIN_SELECT = select(*(_A.c[name] for name in _LOGIN_COLUMNS))
_VERIFY_SELECT = select(*(_A.c[name] for name in _VERIFY_COLUMNS))
_BY_EMAIL = Query(_LOGIN_SELECT.where(_A.c.email == bindparam("email")))
_BY_ID = Query(_LOGIN_SELECT.where(_A.c.id == bindparam("id")))
_BY_ID_WITH_FACTORS = Query(
    _VERIFY_SELECT.add_columns(*second_factor_columns(_A.c.id))
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

_H = sa_table(SRPHandshake)
HANDSHAKE_COLUMNS = (
    "account_id",
    "identity",
    "private_b",
    "public_a",
    "public_b",
    "expires_at",
    "counter_key",
)
"""What verify reads of the handshake it takes (`LoginAccounts.take_handshake`)."""
_TAKE_HANDSHAKE = Query(
    delete(_H)
    .where(_H.c.id == bindparam("id"))
    .returning(*(_H.c[name] for name in HANDSHAKE_COLUMNS))
)
_COUNTERS = ("identity", "ip")
_COUNTER_COLUMNS = ("count", "window_start", "expires_at")
_FACTOR_COLUMNS = ("totp", "webauthn", "recovery_code")
"""The columns of `second_factor_columns`."""


def _taken_with_counters_and_account(dialect: str) -> Any:
    """PostgreSQL: srp/verify's first three steps in one round trip, in its
    transaction (`LoginAccounts.take_handshake`):

    1. `taken`: the handshake, deleted as it is read (single use);
    2. `locked`: the identity's counter (its key stored with the handshake)
       and the address's, created if missing and locked until commit, in
       sorted key order (`ratelimits.locking`); only for a handshake that is
       live and has a counter key;
    3. `account`: the account and its second factors, its row locked
       (FOR NO KEY UPDATE, as `with_second_factors`). Its condition counts
       `locked` whole first, so the counters are always locked before the
       account, in every login. An unknown e-mail's handshake looks up
       `no_account` (a random id): the same lookup, which finds nothing.

    One row (the handshake, with the two counters and the account joined, or
    NULLs), or none if there was no such handshake."""
    if dialect != "postgresql":
        raise NotImplementedError(f"a PostgreSQL statement, not for {dialect}")
    now = bindparam("now", type_=UTCDateTime())
    taken = cast(Delete, _TAKE_HANDSHAKE.statement(dialect)).cte("taken")
    to_lock = and_(taken.c.counter_key.is_not(None), taken.c.expires_at > now)
    keys = union_all(
        select(taken.c.counter_key.label("key")).where(to_lock),
        select(bindparam("ip_key", type_=String()).label("key")).where(to_lock),
    )
    locked = locking(keys).cte("locked")
    all_locked = select(func.count()).select_from(locked).scalar_subquery() > 0
    account_id = (
        select(func.coalesce(taken.c.account_id, bindparam("no_account", type_=Uuid())))
        .where(all_locked)
        .scalar_subquery()
    )
    account = (
        _VERIFY_SELECT.add_columns(*second_factor_columns(_A.c.id))
        .where(_A.c.id == account_id)
        .with_for_update(key_share=True)
        .cte("account")
    )
    counters = {name: locked.alias(f"{name}_counter") for name in _COUNTERS}
    joined = (
        taken.outerjoin(account, true())
        .outerjoin(counters["identity"], counters["identity"].c.key == taken.c.counter_key)
        .outerjoin(counters["ip"], counters["ip"].c.key == bindparam("ip_key"))
    )
    return select(
        *(taken.c[name] for name in HANDSHAKE_COLUMNS),
        *(
            counters[name].c[column].label(f"{name}_{column}")
            for name in _COUNTERS
            for column in _COUNTER_COLUMNS
        ),
        *(account.c[name].label(f"login_{name}") for name in (*_VERIFY_COLUMNS, *_FACTOR_COLUMNS)),
    ).select_from(joined)


_TAKEN_WITH_COUNTERS_AND_ACCOUNT = Query(_taken_with_counters_and_account)


@dataclass(frozen=True, slots=True)
class TakenHandshake:
    """A handshake taken by verify (`LoginAccounts.take_handshake`)."""

    handshake: Row
    """`HANDSHAKE_COLUMNS` of the handshake, now deleted."""
    counters: dict[str, Counter] | None
    """The identity's and the address's counters by key, locked for the rest
    of the transaction (`RateLimitRepository.lock`); None when not locked yet
    (the caller locks them: SQLite, or a handshake without a counter key)."""
    account: tuple[LoginAccount, list[str]] | None
    """The account and its second factors, as `with_second_factors` answers
    them (None: no such account); read only when `counters` is not None."""


_LOGGED_IN = Query(
    update(_A).where(_A.c.id == bindparam("account")).values(last_login_at=bindparam("now"))
)
_STORE_VERIFIER_POWERS = Query(
    update(_A)
    .where(_A.c.id == bindparam("account"), _A.c.srp_verifier == bindparam("verifier"))
    .values(srp_verifier_powers=bindparam("powers"))
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

    async def take_handshake(
        self, handshake_id: uuid.UUID, *, ip_key: str, now: datetime
    ) -> TakenHandshake | None:
        """Take (delete and return) the handshake; on PostgreSQL's direct path
        also lock the brute-force counters and read the account in the same
        statement (`_taken_with_counters_and_account`). None: no such
        handshake (unknown, or already taken)."""
        if not self.db.on_asyncpg:
            row = await self.db.fetchrow(_TAKE_HANDSHAKE, id=handshake_id)
            return TakenHandshake(row, None, None) if row is not None else None
        row = await self.db.fetchrow(
            _TAKEN_WITH_COUNTERS_AND_ACCOUNT,
            id=handshake_id,
            ip_key=ip_key,
            now=now,
            no_account=uuid.uuid4(),
        )
        if row is None:
            return None
        handshake = {name: row[name] for name in HANDSHAKE_COLUMNS}
        if row["identity_count"] is None:  # expired, or no counter key: nothing locked
            return TakenHandshake(handshake, None, None)
        counters = {
            key: locked_counter(row, f"{name}_")
            for name, key in (("identity", row["counter_key"]), ("ip", ip_key))
        }
        if row["login_id"] is None:
            return TakenHandshake(handshake, counters, None)
        account = {name: row[f"login_{name}"] for name in (*_VERIFY_COLUMNS, *_FACTOR_COLUMNS)}
        return TakenHandshake(
            handshake,
            counters,
            (LoginAccount.of(account, _VERIFY_COLUMNS), second_factor_methods(account)),
        )

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
        if row is None:
            return None
        return LoginAccount.of(row, _VERIFY_COLUMNS), second_factor_methods(row)

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

    async def store_verifier_powers(
        self, account_id: uuid.UUID, verifier: bytes, powers: bytes
    ) -> None:
        """Store the powers of `verifier` (`srp.verifier_powers`), unless the
        account's verifier changed meanwhile."""
        await self.db.execute(
            _STORE_VERIFIER_POWERS, account=account_id, verifier=verifier, powers=powers
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

    async def get_locked(self, account_id: uuid.UUID) -> Account | None:
        """The account read afresh, its row held until the transaction ends
        (FOR NO KEY UPDATE, as srp/verify holds it: rows referring to the
        account can still be written)."""
        return await self.session.get(
            Account, account_id, populate_existing=True, with_for_update={"key_share": True}
        )

    async def lock(self, account_id: uuid.UUID) -> bool:
        """Hold the account row until the transaction ends (serializes changes
        to one account: its second factors, so per-account limits are exact,
        its password, its deletion). FOR NO KEY UPDATE, as srp/verify and the
        second step hold it: writers of rows that refer to the account (a log
        entry, a session) take KEY SHARE on it, and must not wait here, or a
        writer that locked one of the account's sessions first deadlocks with
        this transaction. False: there is no such account (any more)."""
        result = await self.session.execute(
            select(_A.c.id).where(_A.c.id == account_id).with_for_update(key_share=True)
        )
        return result.first() is not None

    async def delete(self, account_id: uuid.UUID) -> bool:
        """Delete the account and what cascades from it. The caller holds the
        row (`lock`). Its sessions go first, explicitly: a writer holding one
        of them (logout, a revocation) next writes a log row referring to the
        account, whose KEY SHARE the account's DELETE blocks, while the
        cascade would wait for that writer's session. False: already gone."""
        await self.session.execute(delete(_S).where(_S.c.account_id == account_id))
        result = await self.session.execute(delete(_A).where(_A.c.id == account_id))
        return rowcount(result) == 1

    async def add(self, account: Account) -> Account:
        """Insert; `EmailTakenError` when the e-mail exists (also under a race: the
        unique constraint decides, in a savepoint that keeps the request usable)."""
        try:
            async with self.session.begin_nested():
                self.session.add(account)
        except IntegrityError as exc:
            raise EmailTakenError from exc
        return account
