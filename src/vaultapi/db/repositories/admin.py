"""The operator's queries: account search, the authentication and audit logs,
IP rules, usage counters and statistics.

Statistics are SQL aggregations that run on PostgreSQL and SQLite alike; the
few functions that differ (day, hour, weekday of a timestamp; "address in
network") are chosen by dialect here.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Executable,
    Integer,
    and_,
    bindparam,
    case,
    cast,
    delete,
    distinct,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import CIDR as _CIDR
from sqlalchemy.dialects.postgresql import INET as _INET
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause
from sqlmodel import col

from vaultapi.db.direct import Db, Query
from vaultapi.db.models import (
    Account,
    AuditEvent,
    AuthEvent,
    IPRule,
    RateLimitCounter,
    RecoveryCode,
    Session,
    Share,
    TOTPFactor,
    UsageCounter,
    VaultFolder,
    VaultItem,
    WebAuthnCredential,
)
from vaultapi.db.repositories import rowcount, sa_table
from vaultapi.db.types import utcnow

_AUDIT, _IP_RULES = sa_table(AuditEvent), sa_table(IPRule)
_SEEN_DEVICE = exists().where(
    _AUDIT.c.account_id == bindparam("account_id"),
    # not IN (…): an expanding parameter does not compile for asyncpg
    or_(_AUDIT.c.action == "login", _AUDIT.c.action == "new_device"),
    _AUDIT.c.detail == bindparam("detail"),
)
_AUDIT_COLUMNS = ("at", "account_id", "actor_id", "action", "ip", "detail")
_INSERT_AUDIT = Query(insert(_AUDIT).values({name: bindparam(name) for name in _AUDIT_COLUMNS}))


def login_audit_insert(only_if: FromClause | None = None) -> Insert:
    """The audit entry of a finished login, `login` or `new_device` (the first
    time this device name logs in), decided inside the INSERT: one statement.
    Parameters: `at`, `account_id`, `ip`, `detail`. With `only_if`, one entry
    per row of that (a CTE of the same statement), so none when it is empty."""
    entry = select(
        bindparam("at", type_=_AUDIT.c.at.type),
        bindparam("account_id", type_=_AUDIT.c.account_id.type),
        bindparam("account_id", type_=_AUDIT.c.actor_id.type),
        case((_SEEN_DEVICE, literal("login")), else_=literal("new_device")),
        bindparam("ip", type_=_AUDIT.c.ip.type),
        bindparam("detail", type_=_AUDIT.c.detail.type),
    )
    if only_if is not None:
        entry = entry.select_from(only_if)
    return insert(_AUDIT).from_select(list(_AUDIT_COLUMNS), entry)


_INSERT_LOGIN_AUDIT = Query(login_audit_insert())
_LIVE_IP_RULES = Query(
    select(_IP_RULES.c.network, _IP_RULES.c.action, _IP_RULES.c.expires_at)
    .where(or_(_IP_RULES.c.expires_at.is_(None), _IP_RULES.c.expires_at > bindparam("now")))
    .order_by(_IP_RULES.c.created_at)
)


@dataclass(frozen=True, slots=True)
class LiveIPRule:
    """What the authentication routes need of an `IPRule`."""

    network: str
    action: str
    expires_at: datetime | None


class LoginAudit:
    """The audit log's share of a login, on a `Db` (`vaultapi.db.direct`)."""

    def __init__(self, db: Db) -> None:
        self.db = db

    async def record_login(self, account_id: uuid.UUID, *, ip: str, device: str) -> None:
        """`login`, or `new_device` the first time this device name logs in
        (actor = account)."""
        await self.db.execute(
            _INSERT_LOGIN_AUDIT, at=utcnow(), account_id=account_id, ip=ip, detail=device[:256]
        )


class IPRuleLookup:
    """The live IP rules, on a `Db`: read on every authentication request."""

    def __init__(self, db: Db) -> None:
        self.db = db

    async def live(self, now: datetime) -> list[LiveIPRule]:
        rows = await self.db.fetch(_LIVE_IP_RULES, now=now)
        return [LiveIPRule(row["network"], row["action"], row["expires_at"]) for row in rows]


USAGE_SHARDS = 64
"""Rows per day and metric in `usage_counters` (see `UsageCounter`)."""

COMPLETED_LOGIN = ("srp_verify", "mfa_totp", "mfa_recovery_code", "mfa_webauthn")
"""Auth-log actions that end a login attempt (a 202 `mfa_required` is not an end)."""


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def day_of(session: AsyncSession, column: Any) -> ColumnElement[Any]:
    """The UTC day: a `date` on PostgreSQL (cheaper than formatting each row),
    `YYYY-MM-DD` text on SQLite; `_day_key` makes both text."""
    if _dialect(session) == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.strftime("%Y-%m-%d", column)


def _day_key(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def hour_of(session: AsyncSession, column: Any) -> ColumnElement[int]:
    if _dialect(session) == "postgresql":
        return cast(func.extract("hour", func.timezone("UTC", column)), Integer)
    return cast(func.strftime("%H", column), Integer)


def weekday_of(session: AsyncSession, column: Any) -> ColumnElement[int]:
    """0 = Monday … 6 = Sunday."""
    if _dialect(session) == "postgresql":
        return cast(func.extract("isodow", func.timezone("UTC", column)), Integer) - 1
    return (cast(func.strftime("%w", column), Integer) + 6) % 7


def ip_in_network(session: AsyncSession, column: Any, network: str) -> ColumnElement[bool]:
    """`column` (an address as text, or `unknown`) lies in `network` (CIDR)."""
    if _dialect(session) == "postgresql":
        return case(
            (
                column.op("~")(r"^[0-9a-fA-F:.]+$"),
                cast(column, _INET).op("<<=")(cast(literal(network), _CIDR)),
            ),
            else_=False,
        )
    return func.vaultapi_ip_in_network(column, network) == 1


@dataclass(frozen=True)
class AccountFilter:
    email_prefix: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    status: str | None = None
    has_mfa: bool | None = None
    last_login_from: datetime | None = None
    last_login_to: datetime | None = None


@dataclass(frozen=True)
class AccountRow:
    account: Account
    has_mfa: bool


@dataclass(frozen=True)
class AccountCounts:
    items: int
    folders: int
    shares: int
    live_sessions: int
    security_keys: int
    totp: bool
    recovery_codes_left: int


@dataclass(frozen=True)
class AuthEventFilter:
    account_id: uuid.UUID | None = None
    ip: str | None = None
    network: str | None = None
    outcome: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _has_mfa(account_id: Any) -> ColumnElement[bool]:
    return or_(
        exists().where(
            col(TOTPFactor.account_id) == account_id, col(TOTPFactor.confirmed_at).is_not(None)
        ),
        exists().where(col(WebAuthnCredential.account_id) == account_id),
    )


class AdminRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- accounts ---------------------------------------------------------------

    async def accounts(
        self, where: AccountFilter, *, after_email: str | None, limit: int
    ) -> list[AccountRow]:
        has_mfa = _has_mfa(col(Account.id))
        statement = select(Account, has_mfa.label("has_mfa")).order_by(col(Account.email))
        if where.email_prefix:
            escaped = where.email_prefix.replace("\\", "\\\\").replace("%", r"\%")
            statement = statement.where(
                col(Account.email).like(escaped.replace("_", r"\_") + "%", escape="\\")
            )
        if where.created_from:
            statement = statement.where(col(Account.created_at) >= where.created_from)
        if where.created_to:
            statement = statement.where(col(Account.created_at) < where.created_to)
        if where.status:
            statement = statement.where(col(Account.status) == where.status)
        if where.has_mfa is not None:
            statement = statement.where(has_mfa if where.has_mfa else ~has_mfa)
        if where.last_login_from:
            statement = statement.where(col(Account.last_login_at) >= where.last_login_from)
        if where.last_login_to:
            statement = statement.where(col(Account.last_login_at) < where.last_login_to)
        if after_email is not None:
            statement = statement.where(col(Account.email) > after_email)
        rows = (await self.session.execute(statement.limit(limit))).all()
        return [AccountRow(row[0], bool(row[1])) for row in rows]

    async def counts(self, account_id: uuid.UUID, now: datetime) -> AccountCounts:
        def count(model: Any, *conditions: Any) -> Any:
            return select(func.count()).select_from(model).where(*conditions).scalar_subquery()

        row = (
            await self.session.execute(
                select(
                    count(VaultItem, col(VaultItem.account_id) == account_id),
                    count(VaultFolder, col(VaultFolder.account_id) == account_id),
                    count(Share, col(Share.account_id) == account_id),
                    count(
                        Session,
                        col(Session.account_id) == account_id,
                        col(Session.revoked_at).is_(None),
                        col(Session.expires_at) > now,
                    ),
                    count(WebAuthnCredential, col(WebAuthnCredential.account_id) == account_id),
                    count(
                        TOTPFactor,
                        col(TOTPFactor.account_id) == account_id,
                        col(TOTPFactor.confirmed_at).is_not(None),
                    ),
                    count(
                        RecoveryCode,
                        col(RecoveryCode.account_id) == account_id,
                        col(RecoveryCode.used_at).is_(None),
                    ),
                )
            )
        ).one()
        return AccountCounts(
            items=int(row[0]),
            folders=int(row[1]),
            shares=int(row[2]),
            live_sessions=int(row[3]),
            security_keys=int(row[4]),
            totp=bool(row[5]),
            recovery_codes_left=int(row[6]),
        )

    async def set_status(self, account_id: uuid.UUID, status: str) -> bool:
        result = await self.session.execute(
            update(Account).where(col(Account.id) == account_id).values(status=status)
        )
        return rowcount(result) == 1

    async def set_role(self, email: str, role: str) -> bool:
        result = await self.session.execute(
            update(Account).where(col(Account.email) == email).values(role=role)
        )
        return rowcount(result) == 1

    async def reset_second_factors(self, account_id: uuid.UUID) -> None:
        for model in (TOTPFactor, WebAuthnCredential, RecoveryCode):
            await self.session.execute(delete(model).where(col(model.account_id) == account_id))

    async def account_exists(self, account_id: uuid.UUID) -> bool:
        """True if the account exists, and it then stays until this transaction
        ends (PostgreSQL: `FOR KEY SHARE`, which blocks a concurrent delete but
        no update): a row that will reference it can be written safely."""
        statement = (
            select(col(Account.id))
            .where(col(Account.id) == account_id)
            .with_for_update(read=True, key_share=True)
        )
        return (await self.session.execute(statement)).first() is not None

    # -- the authentication log ---------------------------------------------------

    async def auth_events(
        self, where: AuthEventFilter, *, before_id: int | None, limit: int
    ) -> Sequence[AuthEvent]:
        """Newest first; `before_id` continues a page."""
        statement = select(AuthEvent).order_by(col(AuthEvent.id).desc())
        if where.account_id:
            statement = statement.where(col(AuthEvent.account_id) == where.account_id)
        if where.ip:
            statement = statement.where(col(AuthEvent.ip) == where.ip)
        if where.network:
            statement = statement.where(
                ip_in_network(self.session, col(AuthEvent.ip), where.network)
            )
        if where.outcome:
            statement = statement.where(col(AuthEvent.outcome) == where.outcome)
        if where.action:
            statement = statement.where(col(AuthEvent.action) == where.action)
        if where.since:
            statement = statement.where(col(AuthEvent.at) >= where.since)
        if where.until:
            statement = statement.where(col(AuthEvent.at) < where.until)
        if before_id is not None:
            statement = statement.where(col(AuthEvent.id) < before_id)
        return (await self.session.execute(statement.limit(limit))).scalars().all()

    # -- lockouts -------------------------------------------------------------------

    async def counters(
        self, now: datetime, *, key: str | None = None
    ) -> Sequence[RateLimitCounter]:
        statement = (
            select(RateLimitCounter)
            .where(col(RateLimitCounter.expires_at) > now)
            .order_by(col(RateLimitCounter.count).desc(), col(RateLimitCounter.key))
        )
        if key is not None:
            statement = statement.where(col(RateLimitCounter.key) == key)
        return (await self.session.execute(statement.limit(1000))).scalars().all()

    async def clear_counter(self, key: str) -> bool:
        result = await self.session.execute(
            delete(RateLimitCounter).where(col(RateLimitCounter.key) == key)
        )
        return rowcount(result) == 1

    # -- IP rules ---------------------------------------------------------------------

    async def ip_rules(self, now: datetime) -> Sequence[IPRule]:
        return (
            (
                await self.session.execute(
                    select(IPRule)
                    .where(or_(col(IPRule.expires_at).is_(None), col(IPRule.expires_at) > now))
                    .order_by(col(IPRule.created_at))
                )
            )
            .scalars()
            .all()
        )

    async def add_ip_rule(self, rule: IPRule) -> None:
        self.session.add(rule)
        await self.session.flush()

    async def delete_ip_rule(self, rule_id: uuid.UUID) -> bool:
        result = await self.session.execute(delete(IPRule).where(col(IPRule.id) == rule_id))
        return rowcount(result) == 1

    async def purge_ip_rules(self, now: datetime) -> int:
        result = await self.session.execute(delete(IPRule).where(col(IPRule.expires_at) < now))
        return rowcount(result)

    # -- statistics ---------------------------------------------------------------------

    async def daily_auth(self, since: datetime, until: datetime) -> dict[str, dict[str, int]]:
        at = col(AuthEvent.at)
        day = day_of(self.session, at).label("day")
        action, outcome, reason = (
            col(AuthEvent.action),
            col(AuthEvent.outcome),
            col(AuthEvent.reason),
        )
        completed = and_(
            outcome == "success",
            or_(and_(action == "srp_verify", reason == ""), action.in_(COMPLETED_LOGIN[1:])),
        )
        failed = and_(action.in_(COMPLETED_LOGIN), outcome.in_(("failure", "blocked")))
        registered = and_(action == "register", outcome == "success")
        rows = await self.session.execute(
            select(
                day,
                func.sum(case((registered, 1), else_=0)),
                func.sum(case((completed, 1), else_=0)),
                func.sum(case((failed, 1), else_=0)),
                func.count(distinct(case((completed, col(AuthEvent.account_id)), else_=None))),
            )
            .where(at >= since, at < until)
            .group_by(day)
        )
        return {
            _day_key(row[0]): {
                "registrations": int(row[1] or 0),
                "logins_succeeded": int(row[2] or 0),
                "logins_failed": int(row[3] or 0),
                "active_accounts": int(row[4] or 0),
            }
            for row in rows
        }

    async def daily_usage(self, first_day: str, last_day: str) -> dict[str, dict[str, int]]:
        rows = await self.session.execute(
            select(
                col(UsageCounter.day), col(UsageCounter.metric), func.sum(col(UsageCounter.count))
            )
            .where(col(UsageCounter.day) >= first_day, col(UsageCounter.day) <= last_day)
            .group_by(col(UsageCounter.day), col(UsageCounter.metric))
        )
        found: dict[str, dict[str, int]] = {}
        for day, metric, count in rows:
            found.setdefault(day, {})[metric] = int(count)
        return found

    async def login_frequency(
        self, since: datetime, until: datetime
    ) -> tuple[dict[int, tuple[int, int]], dict[int, tuple[int, int]]]:
        """(by hour, by weekday) → (succeeded, failed) completed login attempts."""
        at = col(AuthEvent.at)
        action, outcome, reason = (
            col(AuthEvent.action),
            col(AuthEvent.outcome),
            col(AuthEvent.reason),
        )
        ended = action.in_(COMPLETED_LOGIN) & ~(
            (action == "srp_verify") & (outcome == "success") & (reason != "")
        )
        succeeded = func.sum(case((outcome == "success", 1), else_=0))
        failed = func.sum(case((outcome != "success", 1), else_=0))
        hour = hour_of(self.session, at).label("hour")
        weekday = weekday_of(self.session, at).label("weekday")
        rows = await self.session.execute(  # one pass: 168 (hour, weekday) buckets
            select(hour, weekday, succeeded, failed)
            .where(at >= since, at < until, ended)
            .group_by(hour, weekday)
        )
        by_hour: dict[int, tuple[int, int]] = {}
        by_weekday: dict[int, tuple[int, int]] = {}
        for row in rows:
            ok, bad = int(row[2] or 0), int(row[3] or 0)
            for found, key in ((by_hour, int(row[0])), (by_weekday, int(row[1]))):
                before = found.get(key, (0, 0))
                found[key] = (before[0] + ok, before[1] + bad)
        return by_hour, by_weekday

    async def top_failing_ips(
        self, since: datetime, until: datetime, limit: int
    ) -> list[tuple[str, int]]:
        at = col(AuthEvent.at)
        failures = func.count().label("failures")
        rows = await self.session.execute(
            select(col(AuthEvent.ip), failures)
            .where(at >= since, at < until, col(AuthEvent.outcome).in_(("failure", "blocked")))
            .group_by(col(AuthEvent.ip))
            .order_by(failures.desc(), col(AuthEvent.ip))
            .limit(limit)
        )
        return [(row[0], int(row[1])) for row in rows]


def _usage_bump(dialect: str) -> Executable:
    table = sa_table(UsageCounter)
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    by = bindparam("by", type_=BigInteger())
    return insert.values(
        day=bindparam("on_day"), metric=bindparam("event"), shard=bindparam("in_shard"), count=by
    ).on_conflict_do_update(
        index_elements=["day", "metric", "shard"], set_={"count": table.c.count + by}
    )


_USAGE_BUMP = Query(_usage_bump)


async def count_usage(
    db: Db, metric: str, now: datetime, account_id: uuid.UUID, by: int = 1
) -> None:
    """Count `by` events of `metric` today, in the account's shard (one
    upsert; the item write routes run it on the direct path)."""
    if by <= 0:
        return
    await db.execute(
        _USAGE_BUMP,
        on_day=now.strftime("%Y-%m-%d"),
        event=metric,
        in_shard=account_id.int % USAGE_SHARDS,
        by=by,
    )


class UsageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def bump(self, metric: str, now: datetime, account_id: uuid.UUID, by: int = 1) -> None:
        """`count_usage` in this session's transaction."""
        await count_usage(Db.of_session(self.session), metric, now, account_id, by)


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(
        self,
        account_id: uuid.UUID | None,
        action: str,
        *,
        ip: str = "",
        detail: str = "",
        actor_id: uuid.UUID | None = None,
        anonymous: bool = False,
        at: datetime | None = None,
    ) -> None:
        """`actor_id` defaults to the account itself; `anonymous` says nobody
        known acted (a share opened through its link)."""
        event = AuditEvent(
            account_id=account_id,
            actor_id=None if anonymous else (actor_id or account_id),
            action=action,
            ip=ip,
            detail=detail[:256],
        )
        if at is not None:
            event.at = at
        self.session.add(event)
        await self.session.flush()

    async def events(
        self,
        *,
        account_id: uuid.UUID | None,
        action: str | None,
        before_id: int | None,
        limit: int,
    ) -> Sequence[AuditEvent]:
        statement = select(AuditEvent).order_by(col(AuditEvent.id).desc())
        if account_id is not None:
            statement = statement.where(col(AuditEvent.account_id) == account_id)
        if action:
            statement = statement.where(col(AuditEvent.action) == action)
        if before_id is not None:
            statement = statement.where(col(AuditEvent.id) < before_id)
        return (await self.session.execute(statement.limit(limit))).scalars().all()

    async def purge_older_than(self, before: datetime) -> int:
        purged = 0
        for model in (AuditEvent, AuthEvent):
            result = await self.session.execute(delete(model).where(col(model.at) < before))
            purged += rowcount(result)
        return purged
