"""Sessions (device logins), access tokens and refresh-token rotation.

Every authenticated request loads its session row (`authenticate`): revoking
a session or disabling an account takes effect on the very next request, on
every worker, without waiting for access tokens to expire.

Refresh tokens rotate on every use. Presenting one that was already rotated
means two parties hold the chain — the user and a thief — and we cannot tell
which is which, so the whole session is revoked (reuse detection).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from vaultapi.crypto.tokens import (
    AccessClaims,
    TokenError,
    issue_access_token,
    new_refresh_token,
    refresh_token_hash,
)
from vaultapi.db.direct import Db
from vaultapi.db.models import Account, Session
from vaultapi.db.repositories.accounts import AccountRepository, LoginAccount, LoginAccounts
from vaultapi.db.repositories.auth import (
    AuthEventRepository,
    DeviceSessionWrites,
    FinishedLogins,
    RefreshTokenRepository,
    SessionLookup,
    SessionRepository,
)
from vaultapi.db.types import utcnow
from vaultapi.errors import (
    AccountDisabled,
    InvalidCredentials,
    InvalidToken,
    NotFound,
    RecentAuthRequired,
    RefreshTokenInvalid,
    RefreshTokenReused,
)
from vaultapi.runtime import Runtime
from vaultapi.services import audit
from vaultapi.services.context import ClientInfo

RevokeReason = Literal[
    "logout", "revoked", "revoked_others", "refresh_reuse", "password_change", "session_limit"
]


@dataclass(frozen=True)
class IssuedTokens:
    session_id: uuid.UUID
    access_token: str
    expires_in: int
    refresh_token: str


@dataclass(frozen=True)
class CurrentSession:
    """The authenticated caller of a request."""

    account: Account
    session: Session


@dataclass(frozen=True)
class Caller:
    """The authenticated caller of a route on the direct path: ids and role."""

    account_id: uuid.UUID
    session_id: uuid.UUID
    role: str


def token_claims(runtime: Runtime, access_token: str) -> AccessClaims:
    """The claims of a valid access token; `InvalidToken` otherwise."""
    try:
        return runtime.verified_tokens.verify(access_token, utcnow())
    except TokenError as exc:
        raise InvalidToken(str(exc).capitalize(), headers=_BEARER_CHALLENGE) from exc


def _session_ended() -> InvalidToken:
    return InvalidToken("The session has ended; log in again", headers=_BEARER_CHALLENGE)


def check_live(claims: AccessClaims, account_id: uuid.UUID | None, status: str) -> None:
    """The session must be live and belong to the token's account, and the
    account must be active (the same answers on both paths)."""
    if account_id != claims.account_id:
        raise _session_ended()
    if status != "active":
        raise AccountDisabled("This account is disabled")


async def lock_own_account(db: AsyncSession, current: CurrentSession) -> None:
    """The caller's account row, held for the rest of the request
    (`AccountRepository.lock`). An account deleted while the request waited
    ends its session like any other: 401, not a write that refers to it."""
    if not await AccountRepository(db).lock(current.account.id):
        raise _session_ended()


async def authenticate_direct(db: Db, runtime: Runtime, access_token: str) -> Caller:
    """`SessionService.authenticate` in one direct statement, for hot routes."""
    claims = token_claims(runtime, access_token)
    found = await SessionLookup(db).live(claims.session_id, utcnow())
    check_live(claims, found["account_id"] if found else None, found["status"] if found else "")
    role: str = found["role"] if found else ""
    return Caller(account_id=claims.account_id, session_id=claims.session_id, role=role)


class SessionIssuer:
    """Opens device sessions and issues tokens: how a successful login ends,
    and how a refresh continues. Direct database access (`vaultapi.db.direct`)."""

    def __init__(self, db: Db, runtime: Runtime, client: ClientInfo) -> None:
        self.db = db
        self.runtime = runtime
        self.settings = runtime.settings.auth
        self.client = client
        self.sessions = DeviceSessionWrites(db)
        self.accounts = LoginAccounts(db)
        self.refresh_tokens = RefreshTokenRepository(db)

    def access_token(
        self, account_id: uuid.UUID, role: str, session_id: uuid.UUID, now: datetime
    ) -> str:
        token, _ = issue_access_token(
            self.runtime.token_keys,
            account_id=account_id,
            session_id=session_id,
            role=role,
            issuer=self.settings.issuer,
            audience=self.settings.audience,
            ttl=timedelta(seconds=self.settings.access_token_ttl_seconds),
            now=now,
        )
        return token

    async def new_refresh_token(self, session_id: uuid.UUID, now: datetime) -> str:
        token = new_refresh_token()
        await self.refresh_tokens.add(refresh_token_hash(token), session_id, now)
        return token

    def _issued(
        self,
        account_id: uuid.UUID,
        role: str,
        session_id: uuid.UUID,
        refresh_token: str,
        now: datetime,
    ) -> IssuedTokens:
        return IssuedTokens(
            session_id=session_id,
            access_token=self.access_token(account_id, role, session_id, now),
            expires_in=self.settings.access_token_ttl_seconds,
            refresh_token=refresh_token,
        )

    async def tokens(
        self, account_id: uuid.UUID, role: str, session_id: uuid.UUID, now: datetime
    ) -> IssuedTokens:
        refresh_token = await self.new_refresh_token(session_id, now)
        return self._issued(account_id, role, session_id, refresh_token, now)

    async def create(
        self, account: LoginAccount | Account, *, device_name: str, now: datetime
    ) -> IssuedTokens:
        """A new device session after a successful proof.

        At most `max_sessions_per_account` sessions stay live: the least
        recently used ones make room (logins must not pile up rows forever).
        Recording the login first locks the account row, so concurrent logins
        of one account count one after the other."""
        await self.accounts.logged_in(account.id, now)
        session_id = uuid.uuid4()
        await self.sessions.add(
            id=session_id,
            account_id=account.id,
            device_name=device_name or self.client.user_agent[:128],
            created_ip=self.client.ip,
            last_ip=self.client.ip,
            created_at=now,
            last_used_at=now,
            last_auth_at=now,
            expires_at=now + timedelta(days=self.settings.refresh_token_ttl_days),
        )
        await self.sessions.keep_newest(
            account.id, keep=self.settings.max_sessions_per_account, now=now, reason="session_limit"
        )
        return await self.tokens(account.id, account.role, session_id, now)

    async def finish_login(
        self, account: LoginAccount | Account, *, device_name: str, now: datetime, action: str
    ) -> IssuedTokens:
        """How a login ends that is finished by its second factor (or, on
        SQLite, by the password alone: `finish_password_login`): `create`, then
        the authentication log's success for `action` and the audit entry."""
        tokens = await self.create(account, device_name=device_name, now=now)
        await AuthEventRepository(self.db).record(
            self.client.ip, self.client.user_agent, action, "success", "", account.id
        )
        await audit.record_login(self.db, self.client, account.id, device_name)
        return tokens

    async def finish_password_login(
        self, account: LoginAccount, *, device_name: str, now: datetime
    ) -> IssuedTokens | None:
        """How srp/verify ends for an account without a second factor: as
        `finish_login`. The caller holds the account's row (read after the
        brute-force counters were locked). On the direct PostgreSQL path all
        of it is one statement (`FinishedLogins`): a login is the hot path, and
        each statement a round trip. None, with nothing written, when the
        account has a second factor after all: one added while this login
        waited for its locks, which the statement that read the account did
        not see. The caller then opens a pending login instead."""
        action = "srp_verify"
        if not self.db.on_asyncpg:
            # SQLite: the transaction has held the database's one writer lock
            # since before the account was read, so what it read is current.
            return await self.finish_login(account, device_name=device_name, now=now, action=action)
        session_id, refresh_token = uuid.uuid4(), new_refresh_token()
        outcome = await FinishedLogins(self.db).record(
            session_id=session_id,
            account_id=account.id,
            device_name=device_name or self.client.user_agent[:128],
            ip=self.client.ip,
            user_agent=self.client.user_agent,
            now=now,
            expires_at=now + timedelta(days=self.settings.refresh_token_ttl_days),
            token_hash=refresh_token_hash(refresh_token),
            keep_sessions=self.settings.max_sessions_per_account,
            action=action,
            audit_device=audit.login_device(self.client, device_name),
        )
        if outcome == "second_factor":
            return None
        if outcome == "gone":
            raise InvalidCredentials("Wrong e-mail or password", keep_changes=True)
        return self._issued(account.id, account.role, session_id, refresh_token, now)

    async def step_up(self, caller: Caller, role: str, now: datetime) -> IssuedTokens:
        """A fresh proof on an existing session: it counts as recent
        authentication again. Its refresh chain restarts from a new token."""
        await self.sessions.reauthenticated(caller.account_id, caller.session_id, now)
        await self.refresh_tokens.retire_all(caller.session_id, now)
        return await self.tokens(caller.account_id, role, caller.session_id, now)


class SessionService:
    def __init__(self, session: AsyncSession, runtime: Runtime, client: ClientInfo) -> None:
        self.db = session
        self.runtime = runtime
        self.settings = runtime.settings.auth
        self.client = client
        self.sessions = SessionRepository(session)
        direct = Db.of_session(session)
        self.issuer = SessionIssuer(direct, runtime, client)
        self.refresh_tokens = RefreshTokenRepository(direct)
        self.events = AuthEventRepository(direct)

    async def authenticate(self, access_token: str) -> CurrentSession:
        claims = token_claims(self.runtime, access_token)
        found = await self.sessions.live_with_account(claims.session_id, utcnow())
        if found is None:
            check_live(claims, None, "")  # raises: no live session
            raise AssertionError("unreachable")
        device_session, account = found
        check_live(claims, account.id, account.status)
        return CurrentSession(account=account, session=device_session)

    async def refresh(self, token: str) -> IssuedTokens:
        now = utcnow()
        try:
            token_hash = refresh_token_hash(token)
        except TokenError as exc:
            raise RefreshTokenInvalid("Malformed refresh token") from exc
        stored = await self.refresh_tokens.find(token_hash)
        if stored is None:
            await self._event("refresh", "failure", "unknown_token")
            raise RefreshTokenInvalid("Unknown refresh token", keep_changes=True)
        found = await self.sessions.live_with_account(stored["session_id"], now, lock=True)
        if found is None:
            await self._event("refresh", "failure", "session_ended")
            raise RefreshTokenInvalid("The session has ended; log in again", keep_changes=True)
        device_session, account = found
        if not await self.refresh_tokens.rotate(token_hash, now):
            await self.sessions.revoke(
                account.id, now=now, reason="refresh_reuse", only=device_session.id
            )
            await self._event("refresh", "failure", "token_reuse", account.id)
            await audit.record(
                self.db, self.client, account.id, "session_revoked", "refresh token reused"
            )
            raise RefreshTokenReused(
                "This refresh token was already used; the session is revoked. Log in again.",
                keep_changes=True,
            )
        if account.status != "active":
            raise AccountDisabled("This account is disabled")
        await self.sessions.touch(device_session.id, now=now, ip=self.client.ip)
        return await self.issuer.tokens(account.id, account.role, device_session.id, now)

    def require_recent_auth(self, current: CurrentSession) -> None:
        max_age = self.settings.recent_auth_seconds
        if utcnow() - current.session.last_auth_at > timedelta(seconds=max_age):
            raise RecentAuthRequired(
                f"Prove the password again (srp/start + srp/verify with this session's "
                f"access token) within {max_age} s before this action",
                extra={"max_age_seconds": max_age},
            )

    async def logout(self, current: CurrentSession) -> None:
        await self.sessions.revoke(
            current.account.id, now=utcnow(), reason="logout", only=current.session.id
        )
        await self._event("logout", "success", "", current.account.id)

    async def list(self, current: CurrentSession) -> list[Session]:
        return list(await self.sessions.list_live(current.account.id, utcnow()))

    async def revoke(self, current: CurrentSession, session_id: uuid.UUID) -> None:
        revoked = await self.sessions.revoke(
            current.account.id, now=utcnow(), reason="revoked", only=session_id
        )
        if not revoked:
            raise NotFound("No live session with this id on your account")
        await audit.record(
            self.db, self.client, current.account.id, "session_revoked", str(session_id)
        )

    async def revoke_others(self, current: CurrentSession) -> int:
        revoked = await self.sessions.revoke(
            current.account.id, now=utcnow(), reason="revoked_others", keep=current.session.id
        )
        await audit.record(
            self.db, self.client, current.account.id, "session_revoked", f"{revoked} others"
        )
        return revoked

    async def _event(
        self, action: str, outcome: str, reason: str, account_id: uuid.UUID | None = None
    ) -> None:
        await self.events.record(
            self.client.ip, self.client.user_agent, action, outcome, reason, account_id
        )


_BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
