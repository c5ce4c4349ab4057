"""Periodic clean-up: expired handshakes, rate-limit counters, dead sessions,
and items left in the trash longer than `vault.trash_days`; and, on one
worker per round (a database claim, `services/claims.py`), expired shares
and old share access records.

Unauthenticated callers can create handshakes and counters, so they must not
accumulate. Every worker runs the purge on a timer; the deletes are
idempotent (`WHERE expires_at < now`), so several workers doing it at once
waste a little work and break nothing.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from vaultapi.db.models import Session, VaultItem
from vaultapi.db.repositories import rowcount
from vaultapi.db.repositories.admin import AdminRepository, AuditRepository
from vaultapi.db.repositories.auth import HandshakeRepository
from vaultapi.db.repositories.mfa import MFARepository
from vaultapi.db.repositories.ratelimits import RateLimitRepository
from vaultapi.db.repositories.vault import VaultRepository
from vaultapi.db.types import utcnow
from vaultapi.services.claims import run_claimed
from vaultapi.services.shares import PURGE_TASK, purge_shares

log = logging.getLogger(__name__)

SESSION_RETENTION = timedelta(days=30)
"""Ended sessions stay listable (and their rotated tokens recognizable as
reuse) for a while, then go with their refresh tokens (cascade)."""


TRASH_BATCH = 1000
"""Trashed items purged per round at most: a round stays short."""


@dataclass(frozen=True)
class Purged:
    handshakes: int
    counters: int
    sessions: int
    trashed_items: int = 0
    second_factor: int = 0
    """Expired mfa_tokens and WebAuthn ceremonies, lapsed TOTP enrolments."""


async def purge_expired(
    session: AsyncSession,
    now: datetime,
    *,
    trash_days: int = 30,
    totp_enrolment_ttl_seconds: int = 900,
) -> Purged:
    handshakes = await HandshakeRepository(session).purge_expired(now)
    second_factor = await MFARepository(session).purge_expired(
        now, pending_totp_before=now - timedelta(seconds=totp_enrolment_ttl_seconds)
    )
    counters = await RateLimitRepository(session).purge_expired(now)
    cutoff = now - SESSION_RETENTION
    ended = await session.execute(
        delete(Session).where(
            (col(Session.expires_at) < cutoff) | (col(Session.revoked_at) < cutoff)
        )
    )
    trashed = await purge_old_trash(session, now - timedelta(days=trash_days))
    return Purged(handshakes, counters, rowcount(ended), trashed, second_factor)


async def purge_old_trash(session: AsyncSession, before: datetime) -> int:
    """Items in the trash since before `before`, gone for good. Each account's
    purge is one vault revision with tombstones, so its devices learn of it."""
    rows = (
        await session.execute(
            select(col(VaultItem.account_id), col(VaultItem.id))
            .where(col(VaultItem.deleted_at) < before)
            .order_by(col(VaultItem.account_id))
            .limit(TRASH_BATCH)
        )
    ).all()
    by_account: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for account_id, item_id in rows:
        by_account[account_id].append(item_id)
    repo, now = VaultRepository(session), utcnow()
    for account_id, item_ids in by_account.items():
        changed_in = await repo.bump(account_id)
        await session.execute(
            delete(VaultItem).where(
                col(VaultItem.account_id) == account_id,
                col(VaultItem.id).in_(item_ids),
                col(VaultItem.deleted_at) < before,  # restored meanwhile: keep it
            )
        )
        for item_id in item_ids:
            await repo.tombstone(account_id, item_id, "item", changed_in, now)
    return len(rows)


async def run_periodically(
    sessionmaker: async_sessionmaker[AsyncSession],
    interval_seconds: float,
    trash_days: int,
    totp_enrolment_ttl_seconds: int = 900,
    *,
    access_log_days: int = 30,
    log_retention_days: int = 180,
) -> None:
    """Until cancelled (at shutdown). A failed round is logged, not fatal."""
    while True:
        await asyncio.sleep(interval_seconds)
        try:
            async with sessionmaker() as session:
                purged = await purge_expired(
                    session,
                    utcnow(),
                    trash_days=trash_days,
                    totp_enrolment_ttl_seconds=totp_enrolment_ttl_seconds,
                )
                await session.commit()
            if any(vars(purged).values()):
                log.info(
                    "purged %d handshakes, %d counters, %d sessions, %d trashed items, "
                    "%d second-factor records",
                    purged.handshakes,
                    purged.counters,
                    purged.sessions,
                    purged.trashed_items,
                    purged.second_factor,
                )
        except Exception:
            log.exception("periodic purge failed; retrying next round")
        await purge_shares_once(sessionmaker, timedelta(seconds=interval_seconds), access_log_days)
        await purge_logs_once(sessionmaker, timedelta(seconds=interval_seconds), log_retention_days)


LOG_RETENTION_TASK = "log-retention"


async def purge_logs(session: AsyncSession, now: datetime, *, retention_days: int) -> int:
    """Authentication and audit records older than the retention, and IP
    rules that have run out."""
    old = await AuditRepository(session).purge_older_than(now - timedelta(days=retention_days))
    return old + await AdminRepository(session).purge_ip_rules(now)


async def purge_logs_once(
    sessionmaker: async_sessionmaker[AsyncSession], lease: timedelta, retention_days: int
) -> None:
    """Log retention, if this worker wins the round's claim."""
    try:
        purged = await run_claimed(
            sessionmaker,
            LOG_RETENTION_TASK,
            lease,
            lambda session: purge_logs(session, utcnow(), retention_days=retention_days),
        )
        if purged:
            log.info("purged %d log records and lapsed IP rules", purged)
    except Exception:
        log.exception("periodic log retention failed; retrying next round")


async def purge_shares_once(
    sessionmaker: async_sessionmaker[AsyncSession], lease: timedelta, access_log_days: int
) -> None:
    """Expired shares and old access records, if this worker wins the round's claim."""
    try:
        purged = await run_claimed(
            sessionmaker,
            PURGE_TASK,
            lease,
            lambda session: purge_shares(session, utcnow(), access_log_days=access_log_days),
        )
        if purged is not None and (purged.shares or purged.access_records):
            log.info(
                "purged %d expired shares, %d share access records",
                purged.shares,
                purged.access_records,
            )
    except Exception:
        log.exception("periodic share purge failed; retrying next round")
