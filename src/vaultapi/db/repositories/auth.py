"""Handshakes, sessions, refresh tokens and the authentication log."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from vaultapi.db.models import Account, AuthEvent, RefreshToken, Session, SRPHandshake
from vaultapi.db.repositories import rowcount
from vaultapi.metrics import AUTH_EVENTS


class HandshakeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, handshake: SRPHandshake) -> None:
        self.session.add(handshake)
        await self.session.flush()

    async def take(self, handshake_id: uuid.UUID) -> SRPHandshake | None:
        """Delete and return the handshake: whoever gets it is the only one,
        however many verify requests race for it."""
        result = await self.session.execute(
            delete(SRPHandshake).where(col(SRPHandshake.id) == handshake_id).returning(SRPHandshake)
        )
        return result.scalar_one_or_none()

    async def purge_expired(self, now: datetime) -> int:
        result = await self.session.execute(
            delete(SRPHandshake).where(col(SRPHandshake.expires_at) < now)
        )
        return rowcount(result)


class SessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, device_session: Session) -> None:
        self.session.add(device_session)
        await self.session.flush()

    async def live_with_account(
        self, session_id: uuid.UUID, now: datetime
    ) -> tuple[Session, Account] | None:
        result = await self.session.execute(
            select(Session, Account)
            .join(Account, col(Account.id) == Session.account_id)
            .where(
                col(Session.id) == session_id,
                col(Session.revoked_at).is_(None),
                col(Session.expires_at) > now,
            )
        )
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

    async def count_live(self, account_id: uuid.UUID, now: datetime) -> int:
        result = await self.session.execute(
            select(func.count())
            .select_from(Session)
            .where(
                col(Session.account_id) == account_id,
                col(Session.revoked_at).is_(None),
                col(Session.expires_at) > now,
            )
        )
        return int(result.scalar_one())

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

    async def revoke_least_recently_used(
        self, account_id: uuid.UUID, *, count: int, now: datetime, reason: str
    ) -> int:
        oldest = (
            select(col(Session.id))
            .where(
                col(Session.account_id) == account_id,
                col(Session.revoked_at).is_(None),
                col(Session.expires_at) > now,
            )
            .order_by(col(Session.last_used_at).asc())
            .limit(count)
        )
        result = await self.session.execute(
            update(Session)
            .where(col(Session.id).in_(oldest.scalar_subquery()))
            .values(revoked_at=now, revoke_reason=reason)
        )
        return rowcount(result)

    async def touch(self, session_id: uuid.UUID, *, now: datetime, ip: str) -> None:
        await self.session.execute(
            update(Session)
            .where(col(Session.id) == session_id)
            .values(last_used_at=now, last_ip=ip)
        )


class RefreshTokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, token_hash: bytes, session_id: uuid.UUID, now: datetime) -> None:
        self.session.add(RefreshToken(token_hash=token_hash, session_id=session_id, created_at=now))
        await self.session.flush()

    async def find(self, token_hash: bytes) -> RefreshToken | None:
        return await self.session.get(RefreshToken, token_hash)

    async def rotate(self, token_hash: bytes, now: datetime) -> bool:
        """Mark the token used. False when it already was: exactly one of two
        concurrent refreshes with the same token succeeds."""
        result = await self.session.execute(
            update(RefreshToken)
            .where(
                col(RefreshToken.token_hash) == token_hash,
                col(RefreshToken.rotated_at).is_(None),
            )
            .values(rotated_at=now)
        )
        return rowcount(result) == 1

    async def retire_all(self, session_id: uuid.UUID, now: datetime) -> None:
        """Mark every live token of a session used: presenting one later is reuse."""
        await self.session.execute(
            update(RefreshToken)
            .where(
                col(RefreshToken.session_id) == session_id,
                col(RefreshToken.rotated_at).is_(None),
            )
            .values(rotated_at=now)
        )


class AuthEventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

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
        self.session.add(
            AuthEvent(
                ip=ip,
                user_agent=user_agent,
                account_id=account_id,
                action=action,
                outcome=outcome,
                reason=reason,
            )
        )
        await self.session.flush()
