"""`/v1/admin`: the operator's API (admin role), and `/v1/account/audit-events`,
the owner's view of their own security events."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from fastapi.responses import StreamingResponse

from vaultapi.api.deps import AdminDep, ClientDep, CurrentDep, RuntimeDep, SessionDep
from vaultapi.api.responses import CONTENT_DISPOSITION, problem_responses
from vaultapi.db.models import Account, AuditEvent, AuthEvent, IPRule
from vaultapi.db.repositories.admin import AccountFilter, AuditRepository, AuthEventFilter
from vaultapi.errors import (
    AccountDisabled,
    AdminRequired,
    BadRequest,
    Conflict,
    InvalidToken,
    NotFound,
    Unauthorized,
    ValidationFailed,
)
from vaultapi.schemas import admin as schemas
from vaultapi.schemas.auth import NO_CONTROL_CHARACTERS
from vaultapi.services.admin import AdminService, audit_page, lockout_kind, normalized_network

router = APIRouter(prefix="/admin", tags=["admin"])
own_router = APIRouter(prefix="/account", tags=["account"])

ADMIN_ERRORS = (Unauthorized, InvalidToken, AccountDisabled, AdminRequired, ValidationFailed)
PageSize = Annotated[int | None, Query(ge=1, description="Page size (capped by the server)")]
Cursor = Annotated[
    str | None, Query(max_length=512, description="`next_cursor` of the previous page")
]


async def get_admin_service(
    admin: AdminDep, session: SessionDep, runtime: RuntimeDep, client: ClientDep
) -> AdminService:
    """The admin service for an admin caller (401/403 for anyone else)."""
    return AdminService(session, runtime, client, admin)


ServiceDep = Annotated[AdminService, Depends(get_admin_service)]


def _limit(runtime: RuntimeDep, asked: int | None) -> int:
    settings = runtime.settings.admin
    return min(asked or settings.page_size, settings.max_page_size)


def _summary(account: Account, has_second_factor: bool) -> schemas.AccountSummary:
    return schemas.AccountSummary(
        id=account.id,
        email=account.email,
        role=account.role,
        status=account.status,
        created_at=account.created_at,
        last_login_at=account.last_login_at,
        has_second_factor=has_second_factor,
    )


# -- accounts ------------------------------------------------------------------------


@router.get(
    "/accounts",
    operation_id="adminListAccounts",
    summary="Accounts, by e-mail, filtered (no vault contents)",
    responses=problem_responses(*ADMIN_ERRORS, BadRequest),
)
async def list_accounts(
    service: ServiceDep,
    runtime: RuntimeDep,
    email_prefix: Annotated[
        str | None, Query(max_length=254, pattern=NO_CONTROL_CHARACTERS)
    ] = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    account_status: Annotated[schemas.AccountStatus | None, Query(alias="status")] = None,
    has_second_factor: bool | None = None,
    last_login_from: datetime | None = None,
    last_login_to: datetime | None = None,
    cursor: Cursor = None,
    limit: PageSize = None,
) -> schemas.AccountPage:
    where = AccountFilter(
        email_prefix=email_prefix.strip().lower() if email_prefix else None,
        created_from=created_from,
        created_to=created_to,
        status=account_status.value if account_status else None,
        has_mfa=has_second_factor,
        last_login_from=last_login_from,
        last_login_to=last_login_to,
    )
    rows, next_cursor = await service.accounts(where, cursor, _limit(runtime, limit))
    return schemas.AccountPage(
        accounts=[_summary(row.account, row.has_mfa) for row in rows], next_cursor=next_cursor
    )


@router.get(
    "/accounts/{account_id}",
    operation_id="adminGetAccount",
    summary="One account with counts (items, folders, shares, sessions, keys)",
    responses=problem_responses(*ADMIN_ERRORS, NotFound),
)
async def get_account(
    account_id: uuid.UUID,
    service: ServiceDep,
) -> schemas.AccountDetail:
    account, has_mfa, counts = await service.account(account_id)
    return schemas.AccountDetail(
        **_summary(account, has_mfa).model_dump(),
        counts=schemas.AccountCounts(
            items=counts.items,
            folders=counts.folders,
            shares=counts.shares,
            live_sessions=counts.live_sessions,
            security_keys=counts.security_keys,
            totp=counts.totp,
            recovery_codes_left=counts.recovery_codes_left,
        ),
    )


async def _set_status(
    account_id: uuid.UUID, new_status: str, service: AdminService
) -> schemas.AccountSummary:
    return _summary(*await service.set_status(account_id, new_status))


@router.post(
    "/accounts/{account_id}/disable",
    operation_id="adminDisableAccount",
    summary="Disable an account: its tokens stop working, its logins fail",
    responses=problem_responses(*ADMIN_ERRORS, NotFound, Conflict),
)
async def disable_account(
    account_id: uuid.UUID,
    service: ServiceDep,
) -> schemas.AccountSummary:
    return await _set_status(account_id, "disabled", service)


@router.post(
    "/accounts/{account_id}/enable",
    operation_id="adminEnableAccount",
    summary="Enable a disabled account",
    responses=problem_responses(*ADMIN_ERRORS, NotFound, Conflict),
)
async def enable_account(
    account_id: uuid.UUID,
    service: ServiceDep,
) -> schemas.AccountSummary:
    return await _set_status(account_id, "active", service)


@router.post(
    "/accounts/{account_id}/logout",
    operation_id="adminLogoutAccount",
    summary="End every session of an account",
    responses=problem_responses(*ADMIN_ERRORS, NotFound),
)
async def logout_account(
    account_id: uuid.UUID,
    service: ServiceDep,
) -> schemas.RevokedSessions:
    revoked = await service.force_logout(account_id)
    return schemas.RevokedSessions(revoked=revoked)


@router.post(
    "/accounts/{account_id}/reset-second-factors",
    operation_id="adminResetSecondFactors",
    summary="Remove an account's TOTP, security keys and recovery codes",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(*ADMIN_ERRORS, NotFound),
)
async def reset_second_factors(
    account_id: uuid.UUID,
    service: ServiceDep,
) -> Response:
    await service.reset_second_factors(account_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/accounts/{account_id}",
    operation_id="adminDeleteAccount",
    summary="Delete an account and everything it owns",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(*ADMIN_ERRORS, NotFound, Conflict),
)
async def delete_account(
    account_id: uuid.UUID,
    service: ServiceDep,
) -> Response:
    await service.delete_account(account_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- the authentication log -----------------------------------------------------------


Outcome = Annotated[schemas.AuthOutcome | None, Query()]
Network = Annotated[
    str | None,
    Query(max_length=49, pattern=NO_CONTROL_CHARACTERS, description="CIDR, e.g. 203.0.113.0/24"),
]
Address = Annotated[str | None, Query(max_length=45, pattern=NO_CONTROL_CHARACTERS)]
Action = Annotated[str | None, Query(max_length=32, pattern=NO_CONTROL_CHARACTERS)]


async def get_auth_filter(
    account_id: uuid.UUID | None = None,
    ip: Address = None,
    network: Network = None,
    outcome: Outcome = None,
    action: Action = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> AuthEventFilter:
    """The authentication-log filters both the list and the CSV export take."""
    return AuthEventFilter(
        account_id=account_id,
        ip=ip,
        network=normalized_network(network) if network else None,
        outcome=outcome.value if outcome else None,
        action=action,
        since=since,
        until=until,
    )


AuthFilterDep = Annotated[AuthEventFilter, Depends(get_auth_filter)]


def _event_info(event: AuthEvent) -> schemas.AuthEventInfo:
    return schemas.AuthEventInfo(
        id=event.id or 0,
        at=event.at,
        ip=event.ip,
        user_agent=event.user_agent,
        account_id=event.account_id,
        action=event.action,
        outcome=event.outcome,
        reason=event.reason,
    )


@router.get(
    "/auth-events",
    operation_id="adminListAuthEvents",
    summary="Authentication attempts, newest first, filtered",
    responses=problem_responses(*ADMIN_ERRORS, BadRequest),
)
async def list_auth_events(
    service: ServiceDep,
    runtime: RuntimeDep,
    where: AuthFilterDep,
    cursor: Cursor = None,
    limit: PageSize = None,
) -> schemas.AuthEventPage:
    events, next_cursor = await service.auth_events(where, cursor, _limit(runtime, limit))
    return schemas.AuthEventPage(events=[_event_info(e) for e in events], next_cursor=next_cursor)


CSV_COLUMNS = ("id", "at", "ip", "user_agent", "account_id", "action", "outcome", "reason")
CSV_EXAMPLE = (
    ",".join(CSV_COLUMNS)
    + "\r\n48213,2026-11-21T06:02:19.115973+00:00,203.0.113.7,vaultapi-client/0.1 (python-httpx),"
    "0b7c9f2e-3c1a-4d5e-9f60-7a8b9c0d1e2f,srp_verify,failure,bad_proof\r\n"
)


def _csv_safe(value: str) -> str:
    """Spreadsheets run cells that start with = + - @ as formulas (a user
    agent is attacker-chosen): such cells get a leading apostrophe."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@router.get(
    "/auth-events/export",
    operation_id="adminExportAuthEvents",
    summary="The filtered authentication log as CSV (newest first)",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}, "example": CSV_EXAMPLE}},
            "description": "CSV",
            "headers": CONTENT_DISPOSITION,
        },
        **problem_responses(*ADMIN_ERRORS, BadRequest),
    },
)
async def export_auth_events(
    service: ServiceDep,
    runtime: RuntimeDep,
    where: AuthFilterDep,
) -> StreamingResponse:
    rows = await service.export_auth_events(where, runtime.settings.admin.csv_max_rows)

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        for event in rows:
            info = _event_info(event)
            writer.writerow(
                [
                    info.id,
                    info.at.isoformat(),
                    info.ip,
                    _csv_safe(info.user_agent),
                    info.account_id or "",
                    info.action,
                    info.outcome,
                    info.reason,
                ]
            )
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()

    return StreamingResponse(
        lines(),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="auth-events.csv"'},
    )


# -- the audit log -------------------------------------------------------------------------


def _audit_info(event: AuditEvent) -> schemas.AuditEventInfo:
    return schemas.AuditEventInfo(
        id=event.id or 0,
        at=event.at,
        account_id=event.account_id,
        actor_id=event.actor_id,
        action=event.action,
        ip=event.ip,
        detail=event.detail,
    )


@router.get(
    "/audit-events",
    operation_id="adminListAuditEvents",
    summary="Security events of all accounts or one, newest first",
    responses=problem_responses(*ADMIN_ERRORS, BadRequest),
)
async def list_audit_events(
    service: ServiceDep,
    runtime: RuntimeDep,
    account_id: uuid.UUID | None = None,
    action: Action = None,
    cursor: Cursor = None,
    limit: PageSize = None,
) -> schemas.AuditEventPage:
    events, next_cursor = await service.audit_events(
        account_id, action, cursor, _limit(runtime, limit)
    )
    return schemas.AuditEventPage(events=[_audit_info(e) for e in events], next_cursor=next_cursor)


@own_router.get(
    "/audit-events",
    operation_id="listMyAuditEvents",
    summary="This account's security events (logins, new devices, changes), newest first",
    responses=problem_responses(Unauthorized, InvalidToken, AccountDisabled, BadRequest),
)
async def list_my_audit_events(
    current: CurrentDep,
    session: SessionDep,
    runtime: RuntimeDep,
    cursor: Cursor = None,
    limit: PageSize = None,
) -> schemas.AuditEventPage:
    events, next_cursor = await audit_page(
        AuditRepository(session), current.account.id, None, cursor, _limit(runtime, limit)
    )
    return schemas.AuditEventPage(events=[_audit_info(e) for e in events], next_cursor=next_cursor)


# -- lockouts and IP rules --------------------------------------------------------------------


@router.get(
    "/lockouts",
    operation_id="adminListLockouts",
    summary="Live brute-force counters (per e-mail backoffs and per-IP limits)",
    responses=problem_responses(*ADMIN_ERRORS, BadRequest),
)
async def list_lockouts(
    service: ServiceDep,
    email: Annotated[
        str | None, Query(max_length=254, description="Only this e-mail's backoff")
    ] = None,
) -> schemas.LockoutList:
    found = await service.lockouts(email)
    return schemas.LockoutList(
        lockouts=[
            schemas.Lockout(
                key=counter.key,
                kind=lockout_kind(counter.key),
                count=counter.count,
                since=counter.window_start,
                blocked_until=until,
            )
            for counter, until in found
        ]
    )


@router.delete(
    "/lockouts",
    operation_id="adminClearLockout",
    summary="Clear one counter (lift a backoff or an IP limit)",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(*ADMIN_ERRORS, NotFound),
)
async def clear_lockout(
    service: ServiceDep,
    key: Annotated[str, Query(min_length=1, max_length=96, pattern=NO_CONTROL_CHARACTERS)],
) -> Response:
    await service.clear_lockout(key)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _rule_info(rule: IPRule) -> schemas.IPRuleInfo:
    return schemas.IPRuleInfo(
        id=rule.id,
        network=rule.network,
        action=rule.action,
        reason=rule.reason,
        created_by=rule.created_by,
        created_at=rule.created_at,
        expires_at=rule.expires_at,
    )


@router.get(
    "/ip-rules",
    operation_id="adminListIpRules",
    summary="IP blocks and allows in force",
    responses=problem_responses(*ADMIN_ERRORS),
)
async def list_ip_rules(service: ServiceDep) -> schemas.IPRuleList:
    rules = await service.ip_rules()
    return schemas.IPRuleList(rules=[_rule_info(rule) for rule in rules])


@router.post(
    "/ip-rules",
    operation_id="adminAddIpRule",
    summary="Block (or allow) an address or network, for a while or until removed",
    description=(
        "The rule holds at once on the worker that answers this request, and on "
        "every other worker within `admin.ip_rules_cache_seconds` (default 2 s): "
        "each worker rereads the rules at most that often. The same goes for "
        "removing a rule."
    ),
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(*ADMIN_ERRORS, BadRequest),
)
async def add_ip_rule(
    body: schemas.IPRuleRequest,
    service: ServiceDep,
) -> schemas.IPRuleInfo:
    rule = await service.add_ip_rule(body.network, body.action, body.reason, body.duration_seconds)
    return _rule_info(rule)


@router.delete(
    "/ip-rules/{rule_id}",
    operation_id="adminRemoveIpRule",
    summary="Remove an IP rule",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(*ADMIN_ERRORS, NotFound),
)
async def remove_ip_rule(
    rule_id: uuid.UUID,
    service: ServiceDep,
) -> Response:
    await service.delete_ip_rule(rule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- statistics -----------------------------------------------------------------------


@router.get(
    "/stats/daily",
    operation_id="adminDailyStats",
    summary="Per day (UTC): registrations, logins, active accounts, item and share activity",
    responses=problem_responses(*ADMIN_ERRORS, BadRequest),
)
async def daily_stats(
    service: ServiceDep,
    first: Annotated[date, Query(alias="from")],
    last: Annotated[date, Query(alias="to")],
) -> schemas.DailyStats:
    days = await service.daily(first, last)
    fields = [name for name in schemas.DayStats.model_fields if name != "day"]
    return schemas.DailyStats(
        days=[
            schemas.DayStats(day=row.day, **{name: row.values.get(name, 0) for name in fields})
            for row in days
        ]
    )


@router.get(
    "/stats/frequency",
    operation_id="adminFrequencyStats",
    summary="Logins by hour of day and weekday (UTC), and the IPs with most failures",
    responses=problem_responses(*ADMIN_ERRORS, BadRequest),
)
async def frequency_stats(
    service: ServiceDep,
    first: Annotated[date, Query(alias="from")],
    last: Annotated[date, Query(alias="to")],
    top: Annotated[int, Query(ge=1, le=100)] = 10,
) -> schemas.FrequencyStats:
    by_hour, by_weekday, ips = await service.frequency(first, last, top)

    def buckets(found: dict[int, tuple[int, int]], size: int) -> list[schemas.FrequencyBucket]:
        return [
            schemas.FrequencyBucket(
                bucket=n,
                logins_succeeded=found.get(n, (0, 0))[0],
                logins_failed=found.get(n, (0, 0))[1],
            )
            for n in range(size)
        ]

    return schemas.FrequencyStats(
        by_hour=buckets(by_hour, 24),
        by_weekday=buckets(by_weekday, 7),
        top_failing_ips=[schemas.FailingIP(ip=ip, failures=n) for ip, n in ips],
    )
