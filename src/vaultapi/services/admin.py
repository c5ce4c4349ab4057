"""The operator's side: accounts, the logs, lockouts, IP rules, statistics.

Admins are ordinary accounts with `role = "admin"` (granted on the server's
command line), authenticated like anyone. Nothing here reads vault contents:
an admin sees counts and states. Every call — reads included — leaves an
`admin_action` record in the audit log, naming the admin and, where there is
one, the account acted on.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from vaultapi.crypto import CryptoError
from vaultapi.crypto.kdf import normalize_email
from vaultapi.db.direct import Db
from vaultapi.db.models import Account, AuditEvent, AuthEvent, IPRule, RateLimitCounter
from vaultapi.db.repositories.accounts import AccountRepository
from vaultapi.db.repositories.admin import (
    AccountCounts,
    AccountFilter,
    AccountRow,
    AdminRepository,
    AuditRepository,
    AuthEventFilter,
)
from vaultapi.db.repositories.auth import SessionRepository
from vaultapi.db.repositories.mfa import MFARepository
from vaultapi.db.types import utcnow
from vaultapi.errors import BadRequest, Conflict, NotFound
from vaultapi.runtime import Runtime
from vaultapi.services.abuse import AbuseGuard
from vaultapi.services.context import ClientInfo
from vaultapi.services.sessions import CurrentSession

MAX_STATS_DAYS = 400
EXPORT_PAGE = 5000
"""Rows read per query while building a CSV export."""


@dataclass(frozen=True)
class DayRow:
    day: date
    values: dict[str, int]


_MALFORMED_CURSOR = "Malformed cursor: pass back the `next_cursor` of a page"


def encode_cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).rstrip(b"=").decode()


def decode_cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        text = raw.decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(_MALFORMED_CURSOR) from exc
    # Our cursors hold an e-mail or a row id: never a control character (and
    # PostgreSQL cannot even compare text holding NUL).
    if any(unicodedata.category(char) == "Cc" for char in text):
        raise BadRequest(_MALFORMED_CURSOR)
    return text


_ID_CURSOR = re.compile(r"[0-9]{1,18}")
"""A row id: ASCII digits only (`str.isdigit` also takes "²"), and within a BIGINT."""


def decode_id_cursor(cursor: str | None) -> int | None:
    text = decode_cursor(cursor)
    if text is None:
        return None
    if _ID_CURSOR.fullmatch(text) is None:
        raise BadRequest(_MALFORMED_CURSOR)
    return int(text)


def normalized_network(text: str) -> str:
    try:
        return str(ipaddress.ip_network(text.strip(), strict=False))
    except ValueError as exc:
        raise BadRequest(f"Not an IP address or CIDR network: {text!r}") from exc


def lockout_kind(key: str) -> str:
    prefix = key.split(":", 1)[0]
    return {
        "identity": "account",
        "ip-fail": "ip_failures",
        "ip-start": "ip_handshakes",
        "ip-register": "ip_registrations",
    }.get(prefix, "other")


class AdminService:
    def __init__(
        self,
        session: AsyncSession,
        runtime: Runtime,
        client: ClientInfo,
        admin: CurrentSession,
    ) -> None:
        self.db = session
        self.runtime = runtime
        self.client = client
        self.admin = admin
        self.repo = AdminRepository(session)
        self.audit = AuditRepository(session)
        self.guard = AbuseGuard(
            Db.of_session(session), runtime.settings.abuse, runtime.keys.server_secret
        )

    async def _log(self, what: str, subject: uuid.UUID | None = None) -> None:
        await self.audit.record(
            subject,
            "admin_action",
            ip=self.client.ip,
            detail=what,
            actor_id=self.admin.account.id,
        )

    async def _log_reading(self, what: str, account_id: uuid.UUID | None) -> None:
        """Reading a log filtered by one account is recorded on that account (its
        owner sees it in their own audit log). The filter may name an account
        that is gone (deleted: just when an admin looks into it) or never was:
        then the record has no subject and names the id in its detail."""
        if account_id is not None and not await self.repo.account_exists(account_id):
            await self._log(f"{what} of unknown account {account_id}")
            return
        await self._log(what, account_id)

    # -- accounts -----------------------------------------------------------------

    async def accounts(
        self, where: AccountFilter, cursor: str | None, limit: int
    ) -> tuple[list[AccountRow], str | None]:
        await self._log("list accounts")
        rows = await self.repo.accounts(where, after_email=decode_cursor(cursor), limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, encode_cursor(rows[-1].account.email) if more and rows else None

    async def _account(self, account_id: uuid.UUID) -> Account:
        account = await self.db.get(Account, account_id)
        if account is None:
            raise NotFound("No account with this id")
        return account

    async def _locked_account(self, account_id: uuid.UUID) -> Account:
        """`_account` for a change: the row held first (`AccountRepository.lock`),
        then read afresh, so that an account deleted meanwhile is a 404."""
        locked = await AccountRepository(self.db).lock(account_id)
        account = await self.db.get(Account, account_id, populate_existing=True) if locked else None
        if account is None:
            raise NotFound("No account with this id")
        return account

    async def account(self, account_id: uuid.UUID) -> tuple[Account, bool, AccountCounts]:
        account = await self._account(account_id)
        await self._log("view account", account_id)
        counts = await self.repo.counts(account_id, utcnow())
        return account, counts.totp or counts.security_keys > 0, counts

    async def set_status(self, account_id: uuid.UUID, status: str) -> tuple[Account, bool]:
        """The account with its new status, and whether it has a second factor."""
        if account_id == self.admin.account.id:
            raise Conflict("Admins cannot disable or enable their own account")
        account = await self._locked_account(account_id)
        account.status = status
        await self._log(f"set status {status}", account_id)
        counts = await self.repo.counts(account_id, utcnow())
        return account, counts.totp or counts.security_keys > 0

    async def force_logout(self, account_id: uuid.UUID) -> int:
        await self._account(account_id)
        revoked = await SessionRepository(self.db).revoke(account_id, now=utcnow(), reason="admin")
        await self._log(f"force logout ({revoked} sessions)", account_id)
        return revoked

    async def reset_second_factors(self, account_id: uuid.UUID) -> None:
        """Like the user's own factor changes (`vaultapi.services.mfa`): under
        the account's row lock, which a login holds while it decides between
        tokens and a second step; logins waiting for a factor start over."""
        await self._locked_account(account_id)
        await self.repo.reset_second_factors(account_id)
        await MFARepository(self.db).delete_pending_logins(account_id)
        await self._log("reset second factors", account_id)

    async def delete_account(self, account_id: uuid.UUID) -> None:
        if account_id == self.admin.account.id:
            raise Conflict("Delete your own account from /v1/account, not the admin API")
        account = await self._locked_account(account_id)
        await self._log(f"delete account {account.id}", account_id)
        await AccountRepository(self.db).delete(account_id)

    # -- logs -----------------------------------------------------------------------

    async def auth_events(
        self, where: AuthEventFilter, cursor: str | None, limit: int
    ) -> tuple[Sequence[AuthEvent], str | None]:
        await self._log_reading("read authentication log", where.account_id)
        events = await self.repo.auth_events(
            where, before_id=decode_id_cursor(cursor), limit=limit + 1
        )
        more = len(events) > limit
        events = events[:limit]
        next_cursor = encode_cursor(str(events[-1].id)) if more and events else None
        return events, next_cursor

    async def export_auth_events(self, where: AuthEventFilter, cap: int) -> list[AuthEvent]:
        """Up to `cap` matching events, newest first (one audit record, whatever the size)."""
        await self._log_reading("export authentication log", where.account_id)
        rows: list[AuthEvent] = []
        before: int | None = None
        while len(rows) < cap:
            want = min(EXPORT_PAGE, cap - len(rows))
            page = await self.repo.auth_events(where, before_id=before, limit=want)
            rows.extend(page)
            if len(page) < want:
                break
            before = page[-1].id
        return rows

    async def audit_events(
        self, account_id: uuid.UUID | None, action: str | None, cursor: str | None, limit: int
    ) -> tuple[Sequence[AuditEvent], str | None]:
        await self._log_reading("read audit log", account_id)
        return await audit_page(self.audit, account_id, action, cursor, limit)

    # -- lockouts -------------------------------------------------------------------

    async def lockouts(self, email: str | None) -> list[tuple[RateLimitCounter, datetime | None]]:
        await self._log("list lockouts")
        now = utcnow()
        key = None
        if email is not None:
            try:
                key = self.guard.identity_key(normalize_email(email))
            except CryptoError as exc:
                raise BadRequest(f"Invalid e-mail address: {exc}") from exc
        counters = await self.repo.counters(now, key=key)
        return [(counter, self.guard.blocked_until(counter, now)) for counter in counters]

    async def clear_lockout(self, key: str) -> None:
        if not await self.repo.clear_counter(key):
            raise NotFound("No counter with this key")
        await self._log(f"clear lockout {key}")

    # -- IP rules --------------------------------------------------------------------

    def _forget_ip_rules_on_commit(self) -> None:
        """This worker's copy of the rules is dropped once the change is
        committed: dropped earlier, a request in between could read and keep
        the old rules for another `ip_rules_cache_seconds`."""
        event.listen(
            self.db.sync_session,
            "after_commit",
            lambda _: self.runtime.ip_rules.forget(),
            once=True,
        )

    async def ip_rules(self) -> Sequence[IPRule]:
        await self._log("list IP rules")
        return await self.repo.ip_rules(utcnow())

    async def add_ip_rule(
        self, network: str, action: str, reason: str, duration_seconds: int | None
    ) -> IPRule:
        now = utcnow()
        rule = IPRule(
            network=normalized_network(network),
            action=action,
            reason=reason,
            created_by=self.admin.account.id,
            created_at=now,
            expires_at=now + timedelta(seconds=duration_seconds) if duration_seconds else None,
        )
        await self.repo.add_ip_rule(rule)
        self._forget_ip_rules_on_commit()
        await self._log(f"{action} {rule.network}")
        return rule

    async def delete_ip_rule(self, rule_id: uuid.UUID) -> None:
        if not await self.repo.delete_ip_rule(rule_id):
            raise NotFound("No IP rule with this id")
        self._forget_ip_rules_on_commit()
        await self._log(f"remove IP rule {rule_id}")

    # -- statistics ------------------------------------------------------------------

    @staticmethod
    def _range(first: date, last: date) -> tuple[datetime, datetime]:
        if last < first:
            raise BadRequest("`to` is before `from`")
        if (last - first).days >= MAX_STATS_DAYS:
            raise BadRequest(f"At most {MAX_STATS_DAYS} days per request")
        return (
            datetime.combine(first, time(), UTC),
            datetime.combine(last + timedelta(days=1), time(), UTC),
        )

    async def daily(self, first: date, last: date) -> list[DayRow]:
        since, until = self._range(first, last)
        await self._log(f"daily statistics {first}..{last}")
        auth = await self.repo.daily_auth(since, until)
        usage = await self.repo.daily_usage(first.isoformat(), last.isoformat())
        days = []
        day = first
        while day <= last:
            key = day.isoformat()
            values = {**auth.get(key, {}), **usage.get(key, {})}
            days.append(DayRow(day, values))
            day += timedelta(days=1)
        return days

    async def frequency(
        self, first: date, last: date, top: int
    ) -> tuple[dict[int, tuple[int, int]], dict[int, tuple[int, int]], list[tuple[str, int]]]:
        since, until = self._range(first, last)
        await self._log(f"frequency statistics {first}..{last}")
        by_hour, by_weekday = await self.repo.login_frequency(since, until)
        return by_hour, by_weekday, await self.repo.top_failing_ips(since, until, top)


async def audit_page(
    audit: AuditRepository,
    account_id: uuid.UUID | None,
    action: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[Sequence[AuditEvent], str | None]:
    events = await audit.events(
        account_id=account_id, action=action, before_id=decode_id_cursor(cursor), limit=limit + 1
    )
    more = len(events) > limit
    events = events[:limit]
    return events, encode_cursor(str(events[-1].id)) if more and events else None
