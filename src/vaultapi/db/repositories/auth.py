"""Handshakes, sessions, refresh tokens and the authentication log."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    Executable,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from vaultapi.db.direct import Db, Query, Row
from vaultapi.db.models import Account, AuthEvent, RefreshToken, Session, SRPHandshake
from vaultapi.db.repositories import rowcount, sa_table
from vaultapi.db.repositories.admin import login_audit_insert
from vaultapi.db.repositories.mfa import has_second_factor
from vaultapi.db.types import utcnow
from vaultapi.metrics import AUTH_EVENTS

_H = sa_table(SRPHandshake)
_INSERT_HANDSHAKE = Query(
    insert(_H).values(
        {
            name: bindparam(name)
            for name in (
                "id",
                "account_id",
                "identity",
                "private_b",
                "public_a",
                "public_b",
                "counter_key",
                "client_ip",
                "created_at",
                "expires_at",
            )
        }
    )
)
_PURGE_HANDSHAKES = Query(delete(_H).where(_H.c.expires_at < bindparam("now")))


class HandshakeRepository:
    """SRP handshakes, on the direct path (`vaultapi.db.direct`). Verify takes
    them with `LoginAccounts.take_handshake`."""

    def __init__(self, db: Db) -> None:
        self.db = db

    async def add(self, **values: Any) -> None:
        """Insert a handshake: every column of `SRPHandshake`, `id` included."""
        await self.db.execute(_INSERT_HANDSHAKE, **values)

    async def purge_expired(self, now: datetime) -> int:
        return await self.db.execute(_PURGE_HANDSHAKES, now=now)


class SessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def live_with_account(
        self, session_id: uuid.UUID, now: datetime, *, lock: bool = False
    ) -> tuple[Session, Account] | None:
        """The live session and its account; with `lock`, the session's row
        is held until the transaction ends (FOR NO KEY UPDATE, the account's
        row not): refresh takes it before the refresh token's, in the order
        of a step-up, which updates the session and then retires its tokens."""
        statement = (
            select(Session, Account)
            .join(Account, col(Account.id) == Session.account_id)
            .where(
                col(Session.id) == session_id,
                col(Session.revoked_at).is_(None),
                col(Session.expires_at) > now,
            )
        )
        if lock:
            statement = statement.with_for_update(of=Session, key_share=True).execution_options(
                populate_existing=True
            )
        result = await self.session.execute(statement)
        row = result.one_or_none()
        return (row[0], row[1]) if row else None

    async def list_live(self, account_id: uuid.UUID, now: datetime) -> Sequence[Session]:
        result = await self.session.execute(
            select(Session)
            .where(
                col(Session.account_id) == account_id,
                col(Session.revoked_at).is_(None),
                col(Session.expires_at) > now,
            )
            .order_by(col(Session.last_used_at).desc())
        )
        return result.scalars().all()

    async def revoke(
        self,
        account_id: uuid.UUID,
        *,
        now: datetime,
        reason: str,
        only: uuid.UUID | None = None,
        keep: uuid.UUID | None = None,
    ) -> int:
        """Revoke the account's live sessions: one (`only`), or all but `keep`."""
        statement = update(Session).where(
            col(Session.account_id) == account_id,
            col(Session.revoked_at).is_(None),
        )
        if only is not None:
            statement = statement.where(col(Session.id) == only)
        if keep is not None:
            statement = statement.where(col(Session.id) != keep)
        result = await self.session.execute(statement.values(revoked_at=now, revoke_reason=reason))
        return rowcount(result)

    async def touch(self, session_id: uuid.UUID, *, now: datetime, ip: str) -> None:
        await self.session.execute(
            update(Session)
            .where(col(Session.id) == session_id)
            .values(last_used_at=now, last_ip=ip)
        )


_S = sa_table(Session)
_A = sa_table(Account)
_LIVE_SESSION = Query(
    select(_S.c.account_id, _A.c.status, _A.c.role)
    .join(_A, _A.c.id == _S.c.account_id)
    .where(
        _S.c.id == bindparam("session_id"),
        _S.c.revoked_at.is_(None),
        _S.c.expires_at > bindparam("now"),
    )
)


class SessionLookup:
    """The per-request session check on the direct path (`vaultapi.db.direct`):
    one statement, no ORM, so that every authenticated read stays cheap while
    revocation still takes effect on the next request."""

    def __init__(self, db: Db) -> None:
        self.db = db

    async def live(self, session_id: uuid.UUID, now: datetime) -> Row | None:
        """`account_id`, `status` and `role` of the session's account, if the session is live."""
        return await self.db.fetchrow(_LIVE_SESSION, session_id=session_id, now=now)


_SESSION_COLUMNS = (
    "id",
    "account_id",
    "device_name",
    "created_ip",
    "last_ip",
    "created_at",
    "last_used_at",
    "last_auth_at",
    "expires_at",
)
_INSERT_SESSION = Query(insert(_S).values({name: bindparam(name) for name in _SESSION_COLUMNS}))


def _beyond_newest(owner: Any, keep: Any, now: Any) -> Any:
    """The ids of `owner`'s live sessions after the `keep` most recently used."""
    return (
        select(_S.c.id)
        .where(_S.c.account_id == owner, _S.c.revoked_at.is_(None), _S.c.expires_at > now)
        .order_by(_S.c.last_used_at.desc(), _S.c.id)
        .offset(keep)
        .scalar_subquery()
    )


_KEEP_NEWEST = Query(
    update(_S)
    .where(_S.c.id.in_(_beyond_newest(bindparam("owner"), bindparam("keep"), bindparam("now"))))
    .values(revoked_at=bindparam("now"), revoke_reason=bindparam("reason"))
)
_REAUTHENTICATED = Query(
    update(_S)
    .where(_S.c.id == bindparam("session"), _S.c.account_id == bindparam("owner"))
    .values(last_auth_at=bindparam("now"), last_used_at=bindparam("now"))
)


class DeviceSessionWrites:
    """What a login writes to `sessions`, on the direct path (`vaultapi.db.direct`)."""

    def __init__(self, db: Db) -> None:
        self.db = db

    async def add(self, **values: Any) -> None:
        """Insert a session: the columns of `Session` up to `expires_at`, `id` included."""
        await self.db.execute(_INSERT_SESSION, **values)

    async def keep_newest(
        self, account_id: uuid.UUID, *, keep: int, now: datetime, reason: str
    ) -> int:
        """Revoke the account's live sessions beyond the `keep` most recently
        used ones (one statement, whatever the count)."""
        return await self.db.execute(
            _KEEP_NEWEST, owner=account_id, keep=keep, now=now, reason=reason
        )

    async def reauthenticated(
        self, account_id: uuid.UUID, session_id: uuid.UUID, now: datetime
    ) -> None:
        """A fresh proof on this session: recent authentication again."""
        await self.db.execute(_REAUTHENTICATED, session=session_id, owner=account_id, now=now)


_R = sa_table(RefreshToken)
_INSERT_REFRESH = Query(
    insert(_R).values(
        token_hash=bindparam("token_hash"),
        session_id=bindparam("session_id"),
        created_at=bindparam("now"),
    )
)
_FIND_REFRESH = Query(
    select(_R.c.session_id, _R.c.rotated_at).where(_R.c.token_hash == bindparam("token_hash"))
)
_ROTATE_REFRESH = Query(
    update(_R)
    .where(_R.c.token_hash == bindparam("hash"), _R.c.rotated_at.is_(None))
    .values(rotated_at=bindparam("now"))
)
_RETIRE_REFRESH = Query(
    update(_R)
    .where(_R.c.session_id == bindparam("session"), _R.c.rotated_at.is_(None))
    .values(rotated_at=bindparam("now"))
)


class RefreshTokenRepository:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def add(self, token_hash: bytes, session_id: uuid.UUID, now: datetime) -> None:
        await self.db.execute(
            _INSERT_REFRESH, token_hash=token_hash, session_id=session_id, now=now
        )

    async def find(self, token_hash: bytes) -> Row | None:
        """`session_id` and `rotated_at` of a stored token."""
        return await self.db.fetchrow(_FIND_REFRESH, token_hash=token_hash)

    async def rotate(self, token_hash: bytes, now: datetime) -> bool:
        """Mark the token used. False when it already was: exactly one of two
        concurrent refreshes with the same token succeeds."""
        return await self.db.execute(_ROTATE_REFRESH, hash=token_hash, now=now) == 1

    async def retire_all(self, session_id: uuid.UUID, now: datetime) -> None:
        """Mark every live token of a session used: presenting one later is reuse."""
        await self.db.execute(_RETIRE_REFRESH, session=session_id, now=now)


_E = sa_table(AuthEvent)
_INSERT_EVENT = Query(
    insert(_E).values(
        {
            name: bindparam(name)
            for name in ("at", "ip", "user_agent", "account_id", "action", "outcome", "reason")
        }
    )
)


class AuthEventRepository:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def record(
        self,
        ip: str,
        user_agent: str,
        action: str,
        outcome: str,
        reason: str = "",
        account_id: uuid.UUID | None = None,
    ) -> None:
        AUTH_EVENTS.labels(action, outcome).inc()
        await self.db.execute(
            _INSERT_EVENT,
            at=utcnow(),
            ip=ip,
            user_agent=user_agent,
            account_id=account_id,
            action=action,
            outcome=outcome,
            reason=reason,
        )


def _finished_login() -> Executable:
    """PostgreSQL: everything a login finished by the password alone writes,
    as one statement of data-modifying CTEs: the account's `last_login_at`,
    the new session, its refresh token, the session limit, the authentication
    log entry and the audit entry. Only for `Db.on_asyncpg` (srp/verify).

    Nothing is written when the account is gone, or when it has a second
    factor: one added while the login waited for its locks, which the
    statement that read the account did not see (its snapshot predates the
    wait). Answers the number of sessions opened, and whether the account
    exists.

    The sub-statements see the database as it was when the statement began.
    That snapshot is exact because logins of one account reach this
    statement one at a time, and so do changes to its second factors: each
    holds the account's row, locked by an earlier statement of its
    transaction (`LoginAccounts.take_handshake` or `with_second_factors`;
    second-factor changes by `AccountRepository.lock`). So the snapshot
    shows the previous login's session (the session limit is applied to the
    other sessions with `keep - 1`: the new one is the most recently used)
    and every second factor the account has."""
    now = bindparam("now", type_=_S.c.created_at.type)
    account = bindparam("account_id", type_=_A.c.id.type)
    ip = bindparam("ip", type_=_S.c.created_ip.type)
    touched = (
        update(_A)
        .where(_A.c.id == account, ~has_second_factor(_A.c.id))
        .values(last_login_at=now)
        .returning(_A.c.id)
        .cte("touched")
    )
    opened = (
        insert(_S)
        .from_select(
            list(_SESSION_COLUMNS),
            select(
                bindparam("session_id", type_=_S.c.id.type),
                touched.c.id,
                bindparam("device_name", type_=_S.c.device_name.type),
                ip,
                ip,
                now,
                now,
                now,
                bindparam("expires_at", type_=_S.c.expires_at.type),
            ),
        )
        .returning(_S.c.id)
        .cte("opened")
    )
    refreshed = (
        insert(_R)
        .from_select(
            ["token_hash", "session_id", "created_at"],
            select(bindparam("token_hash", type_=_R.c.token_hash.type), opened.c.id, now),
        )
        .cte("refreshed")
    )
    limited = (
        update(_S)
        .where(
            exists(select(touched.c.id)),  # only with the new session
            _S.c.id.in_(_beyond_newest(account, bindparam("keep_others"), now)),
        )
        .values(revoked_at=now, revoke_reason="session_limit")
        .cte("limited")
    )
    logged = (
        insert(_E)
        .from_select(
            ["at", "ip", "user_agent", "account_id", "action", "outcome", "reason"],
            select(
                now,
                ip,
                bindparam("user_agent", type_=_E.c.user_agent.type),
                touched.c.id,
                bindparam("action", type_=_E.c.action.type),
                literal("success"),
                literal(""),
            ),
        )
        .cte("logged")
    )
    audited = login_audit_insert(only_if=touched).cte("audited")
    return select(
        select(func.count()).select_from(opened).scalar_subquery().label("opened"),
        exists().where(_A.c.id == account).label("account_exists"),
    ).add_cte(touched, refreshed, limited, logged, audited)


_FINISHED_LOGIN = Query(_finished_login())


class FinishedLogins:
    """A finished login's writes in one statement, on the direct PostgreSQL
    path (see `_finished_login`); elsewhere the caller writes them one by one."""

    def __init__(self, db: Db) -> None:
        self.db = db

    async def record(
        self,
        *,
        session_id: uuid.UUID,
        account_id: uuid.UUID,
        device_name: str,
        ip: str,
        user_agent: str,
        now: datetime,
        expires_at: datetime,
        token_hash: bytes,
        keep_sessions: int,
        action: str,
        audit_device: str,
    ) -> Literal["opened", "second_factor", "gone"]:
        """Whether the session was opened, or else why not (nothing is written
        then): the account has a second factor, or no longer exists."""
        row = await self.db.fetchrow(
            _FINISHED_LOGIN,
            session_id=session_id,
            account_id=account_id,
            device_name=device_name,
            ip=ip,
            user_agent=user_agent,
            now=now,
            at=now,
            expires_at=expires_at,
            token_hash=token_hash,
            keep_others=keep_sessions - 1,
            action=action,
            detail=audit_device[:256],
        )
        assert row is not None  # noqa: S101 - a SELECT without FROM answers one row
        if row["opened"]:
            AUTH_EVENTS.labels(action, "success").inc()
            return "opened"
        return "second_factor" if row["account_exists"] else "gone"
