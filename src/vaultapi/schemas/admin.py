"""The operator's API (`/v1/admin/...`) and the account's own audit log.

Nothing here carries vault contents: counts, states and logs only.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from vaultapi.schemas import examples as ex
from vaultapi.schemas.auth import NO_CONTROL_CHARACTERS, Strict
from vaultapi.schemas.examples import example_config


class AccountStatus(StrEnum):
    """A named schema (not an inline enum) so generated SDKs get a good type name."""

    ACTIVE = "active"
    DISABLED = "disabled"


class AuthOutcome(StrEnum):
    """How an authentication attempt ended; a named schema for the same reason."""

    SUCCESS = "success"
    FAILURE = "failure"
    BLOCKED = "blocked"


_SUMMARY = {
    "id": ex.ACCOUNT_ID,
    "email": ex.EMAIL,
    "role": "user",
    "status": "active",
    "created_at": ex.CREATED_AT,
    "last_login_at": ex.UPDATED_AT,
    "has_second_factor": True,
}
_COUNTS = {
    "items": 128,
    "folders": 6,
    "shares": 2,
    "live_sessions": 3,
    "security_keys": 1,
    "totp": True,
    "recovery_codes_left": 9,
}
_AUTH_EVENT = {
    "id": 48213,
    "at": ex.UPDATED_AT,
    "ip": ex.IP,
    "user_agent": ex.USER_AGENT,
    "account_id": ex.ACCOUNT_ID,
    "action": "srp_verify",
    "outcome": "failure",
    "reason": "bad_proof",
}
_AUDIT_EVENT = {
    "id": 912,
    "at": ex.UPDATED_AT,
    "account_id": ex.ACCOUNT_ID,
    "actor_id": ex.ADMIN_ID,
    "action": "admin_action",
    "ip": "192.0.2.10",
    "detail": "set status disabled",
}
_LOCKOUT = {
    "key": "ip-fail:" + ex.IP,
    "kind": "ip_failures",
    "count": 20,
    "since": ex.UPDATED_AT,
    "blocked_until": ex.LATER,
}
_IP_RULE = {
    "id": ex.RULE_ID,
    "network": "203.0.113.0/24",
    "action": "block",
    "reason": "credential stuffing",
    "created_by": ex.ADMIN_ID,
    "created_at": ex.UPDATED_AT,
    "expires_at": "2026-11-28T06:02:19.115973Z",
}
_DAY = {
    "day": "2026-11-20",
    "registrations": 4,
    "logins_succeeded": 311,
    "logins_failed": 17,
    "active_accounts": 142,
    "items_created": 58,
    "items_updated": 203,
    "items_deleted": 9,
    "shares_created": 12,
    "shares_opened": 10,
}
REASON = Annotated[
    str, StringConstraints(min_length=1, max_length=256, pattern=NO_CONTROL_CHARACTERS)
]


class AccountSummary(BaseModel):
    model_config = example_config(_SUMMARY)

    id: uuid.UUID
    email: str
    role: str
    status: str
    created_at: datetime
    last_login_at: datetime | None
    has_second_factor: bool


class AccountPage(BaseModel):
    model_config = example_config(
        {"accounts": [_SUMMARY], "next_cursor": "eyJlIjoiYWxpY2VAZXhhbXBsZS5jb20ifQ"}
    )

    accounts: list[AccountSummary]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )


class AccountCounts(BaseModel):
    model_config = example_config(_COUNTS)

    items: int
    folders: int
    shares: int
    live_sessions: int
    security_keys: int
    totp: bool
    recovery_codes_left: int


class AccountDetail(AccountSummary):
    model_config = example_config({**_SUMMARY, "counts": _COUNTS})

    counts: AccountCounts


class RevokedSessions(BaseModel):
    model_config = example_config({"revoked": 3})

    revoked: int


class AuthEventInfo(BaseModel):
    model_config = example_config(_AUTH_EVENT)

    id: int
    at: datetime
    ip: str
    user_agent: str
    account_id: uuid.UUID | None
    action: str
    outcome: str
    reason: str


class AuthEventPage(BaseModel):
    model_config = example_config({"events": [_AUTH_EVENT], "next_cursor": "48213"})

    events: list[AuthEventInfo]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page (older events); null at the end"
    )


class AuditEventInfo(BaseModel):
    model_config = example_config(_AUDIT_EVENT)

    id: int
    at: datetime
    account_id: uuid.UUID | None
    actor_id: uuid.UUID | None = Field(description="Who acted: the account itself, or an admin")
    action: str
    ip: str
    detail: str


class AuditEventPage(BaseModel):
    model_config = example_config({"events": [_AUDIT_EVENT], "next_cursor": None})

    events: list[AuditEventInfo]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page (older events); null at the end"
    )


class Lockout(BaseModel):
    model_config = example_config(_LOCKOUT)

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
    model_config = example_config({"lockouts": [_LOCKOUT]})

    lockouts: list[Lockout]


class IPRuleRequest(Strict):
    model_config = example_config(
        {
            "network": "203.0.113.0/24",
            "action": "block",
            "reason": "credential stuffing",
            "duration_seconds": 604_800,
        }
    )

    network: Annotated[str, StringConstraints(min_length=2, max_length=49)] = Field(
        description="An address or a CIDR network, e.g. `203.0.113.7` or `2001:db8::/48`"
    )
    action: Literal["block", "allow"]
    reason: REASON
    duration_seconds: int | None = Field(
        default=None, ge=60, le=10 * 365 * 86_400, description="Null: until removed"
    )


class IPRuleInfo(BaseModel):
    model_config = example_config(_IP_RULE)

    id: uuid.UUID
    network: str
    action: str
    reason: str
    created_by: uuid.UUID | None
    created_at: datetime
    expires_at: datetime | None


class IPRuleList(BaseModel):
    model_config = example_config({"rules": [_IP_RULE]})

    rules: list[IPRuleInfo]


class DayStats(BaseModel):
    model_config = example_config(_DAY)

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
    model_config = example_config({"days": [_DAY]})

    days: list[DayStats]


class FrequencyBucket(BaseModel):
    model_config = example_config({"bucket": 9, "logins_succeeded": 41, "logins_failed": 2})

    bucket: int
    logins_succeeded: int
    logins_failed: int


class FailingIP(BaseModel):
    model_config = example_config({"ip": ex.IP, "failures": 57})

    ip: str
    failures: int


class FrequencyStats(BaseModel):
    model_config = example_config(
        {
            "by_hour": [
                {"bucket": hour, "logins_succeeded": 10 + hour, "logins_failed": hour % 3}
                for hour in range(24)
            ],
            "by_weekday": [
                {"bucket": day, "logins_succeeded": 300 - 20 * day, "logins_failed": 5}
                for day in range(7)
            ],
            "top_failing_ips": [{"ip": ex.IP, "failures": 57}],
        }
    )

    by_hour: list[FrequencyBucket] = Field(description="24 buckets, hour of day (UTC)")
    by_weekday: list[FrequencyBucket] = Field(description="7 buckets, 0 = Monday (UTC)")
    top_failing_ips: list[FailingIP]
