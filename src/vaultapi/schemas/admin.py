"""The operator's API (`/v1/admin/...`) and the account's own audit log.

Nothing here carries vault contents: counts, states and logs only.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from vaultapi.schemas.auth import NO_CONTROL_CHARACTERS, Strict

AccountStatus = Literal["active", "disabled"]
REASON = Annotated[
    str, StringConstraints(min_length=1, max_length=256, pattern=NO_CONTROL_CHARACTERS)
]


class AccountSummary(BaseModel):
    id: uuid.UUID
    email: str
    role: str
    status: str
    created_at: datetime
    last_login_at: datetime | None
    has_second_factor: bool


class AccountPage(BaseModel):
    accounts: list[AccountSummary]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )


class AccountCounts(BaseModel):
    items: int
    folders: int
    shares: int
    live_sessions: int
    security_keys: int
    totp: bool
    recovery_codes_left: int


class AccountDetail(AccountSummary):
    counts: AccountCounts


class RevokedSessions(BaseModel):
    revoked: int


class AuthEventInfo(BaseModel):
    id: int
    at: datetime
    ip: str
    user_agent: str
    account_id: uuid.UUID | None
    action: str
    outcome: str
    reason: str


class AuthEventPage(BaseModel):
    events: list[AuthEventInfo]
    next_cursor: str | None


class AuditEventInfo(BaseModel):
    id: int
    at: datetime
    account_id: uuid.UUID | None
    actor_id: uuid.UUID | None = Field(description="Who acted: the account itself, or an admin")
    action: str
    ip: str
    detail: str


class AuditEventPage(BaseModel):
    events: list[AuditEventInfo]
    next_cursor: str | None


class Lockout(BaseModel):
    key: str = Field(description="`identity:<hmac>` (an e-mail's backoff) or `ip-…:<address>`")
    kind: str = Field(
        description="`account`, `ip_failures`, `ip_handshakes`, `ip_registrations` or `other`"
    )
    count: int
    since: datetime = Field(description="Window start, or the latest failure of a streak")
    blocked_until: datetime | None = Field(
        description="When this counter stops refusing; null: not refusing"
    )


class LockoutList(BaseModel):
    lockouts: list[Lockout]


class IPRuleRequest(Strict):
    network: Annotated[str, StringConstraints(min_length=2, max_length=49)] = Field(
        description="An address or a CIDR network, e.g. `203.0.113.7` or `2001:db8::/48`"
    )
    action: Literal["block", "allow"]
    reason: REASON
    duration_seconds: int | None = Field(
        default=None, ge=60, le=10 * 365 * 86_400, description="Null: until removed"
    )


class IPRuleInfo(BaseModel):
    id: uuid.UUID
    network: str
    action: str
    reason: str
    created_by: uuid.UUID | None
    created_at: datetime
    expires_at: datetime | None


class IPRuleList(BaseModel):
    rules: list[IPRuleInfo]


class DayStats(BaseModel):
    day: date
    registrations: int
    logins_succeeded: int
    logins_failed: int
    active_accounts: int = Field(description="Distinct accounts with a completed login that day")
    items_created: int
    items_updated: int
    items_deleted: int
    shares_created: int
    shares_opened: int


class DailyStats(BaseModel):
    days: list[DayStats]


class FrequencyBucket(BaseModel):
    bucket: int
    logins_succeeded: int
    logins_failed: int


class FailingIP(BaseModel):
    ip: str
    failures: int


class FrequencyStats(BaseModel):
    by_hour: list[FrequencyBucket] = Field(description="24 buckets, hour of day (UTC)")
    by_weekday: list[FrequencyBucket] = Field(description="7 buckets, 0 = Monday (UTC)")
    top_failing_ips: list[FailingIP]
