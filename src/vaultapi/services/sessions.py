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
    TokenError,
    issue_access_token,
    new_refresh_token,
    refresh_token_hash,
    verify_access_token,
)
from vaultapi.db.models import Account, Session
from vaultapi.db.repositories.accounts import AccountRepository
from vaultapi.db.repositories.auth import (
    AuthEventRepository,
    RefreshTokenRepository,
    SessionRepository,
)
from vaultapi.db.types import utcnow
from vaultapi.errors import (
    AccountDisabled,
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


class SessionService:
    def __init__(self, session: AsyncSession, runtime: Runtime, client: ClientInfo) -> None:
        self.db = session
        self.runtime = runtime
        self.settings = runtime.settings.auth
        self.client = client
        self.sessions = SessionRepository(session)
        self.refresh_tokens = RefreshTokenRepository(session)
        self.events = AuthEventRepository(session)

    def _access_token(self, account: Account, session_id: uuid.UUID, now: datetime) -> str:
        token, _ = issue_access_token(
            self.runtime.token_keys,
            account_id=account.id,
            session_id=session_id,
            role=account.role,
            issuer=self.settings.issuer,
            audience=self.settings.audience,
            ttl=timedelta(seconds=self.settings.access_token_ttl_seconds),
            now=now,
        )
        return token

    async def _new_refresh_token(self, session_id: uuid.UUID, now: datetime) -> str:
        token = new_refresh_token()
        await self.refresh_tokens.add(refresh_token_hash(token), session_id, now)
        return token

    async def create(self, account: Account, *, device_name: str, now: datetime) -> IssuedTokens:
        """A new device session after a successful proof."""
        await self._enforce_session_limit(account.id, now)
        device_session = Session(
            account_id=account.id,
            device_name=device_name or self.client.user_agent[:128],
            created_ip=self.client.ip,
            last_ip=self.client.ip,
            created_at=now,
            last_used_at=now,
            last_auth_at=now,
            expires_at=now + timedelta(days=self.settings.refresh_token_ttl_days),
        )
        await self.sessions.add(device_session)
        return IssuedTokens(
            session_id=device_session.id,
            access_token=self._access_token(account, device_session.id, now),
            expires_in=self.settings.access_token_ttl_seconds,
            refresh_token=await self._new_refresh_token(device_session.id, now),
        )

    async def _enforce_session_limit(self, account_id: uuid.UUID, now: datetime) -> None:
        """Keep at most `max_sessions_per_account` live sessions: the least
        recently used ones make room (logins must not pile up rows forever).
        A count on every login; the revoking UPDATE only when over the cap. The
        account row is locked first, so concurrent logins count one by one."""
        await AccountRepository(self.db).lock(account_id)
        live = await self.sessions.count_live(account_id, now)
        excess = live - (self.settings.max_sessions_per_account - 1)
        if excess > 0:
            await self.sessions.revoke_least_recently_used(
                account_id, count=excess, now=now, reason="session_limit"
            )

    async def authenticate(self, access_token: str) -> CurrentSession:
        try:
            claims = verify_access_token(
                self.runtime.token_keys,
                access_token,
                issuer=self.settings.issuer,
                audience=self.settings.audience,
            )
        except TokenError as exc:
            raise InvalidToken(str(exc).capitalize(), headers=_BEARER_CHALLENGE) from exc
        found = await self.sessions.live_with_account(claims.session_id, utcnow())
        if found is None or found[1].id != claims.account_id:
            raise InvalidToken("The session has ended; log in again", headers=_BEARER_CHALLENGE)
        device_session, account = found
        if account.status != "active":
            raise AccountDisabled("This account is disabled")
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
        found = await self.sessions.live_with_account(stored.session_id, now)
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
        return IssuedTokens(
            session_id=device_session.id,
            access_token=self._access_token(account, device_session.id, now),
            expires_in=self.settings.access_token_ttl_seconds,
            refresh_token=await self._new_refresh_token(device_session.id, now),
        )

    async def step_up(self, current: CurrentSession, now: datetime) -> IssuedTokens:
        """A fresh proof on an existing session: it counts as recent
        authentication again. Its refresh chain restarts from a new token."""
        current.session.last_auth_at = now
        current.session.last_used_at = now
        await self.refresh_tokens.retire_all(current.session.id, now)
        return IssuedTokens(
            session_id=current.session.id,
            access_token=self._access_token(current.account, current.session.id, now),
            expires_in=self.settings.access_token_ttl_seconds,
            refresh_token=await self._new_refresh_token(current.session.id, now),
        )

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
