"""Periodic clean-up: expired handshakes, rate-limit counters, dead sessions,
items left in the trash longer than `vault.trash_days`, expired shares and
old share access records, and log records past their retention.

Unauthenticated callers can create handshakes and counters, so they must not
accumulate. Every worker runs the purge timer, but a round runs only where
its task's lease is claimed (`services/leases.py`): once per interval for
the whole deployment, however many workers and machines there are. The
deletes are idempotent besides (`WHERE expires_at < now`), so a round that
overlaps another after a lease expired mid-round breaks nothing.
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

from vaultapi.db.direct import Db
from vaultapi.db.models import Session, VaultItem
from vaultapi.db.repositories import rowcount
from vaultapi.db.repositories.admin import AdminRepository, AuditRepository
from vaultapi.db.repositories.auth import HandshakeRepository
from vaultapi.db.repositories.mfa import MFARepository
from vaultapi.db.repositories.ratelimits import RateLimitRepository
from vaultapi.db.repositories.vault import VaultRepository
from vaultapi.db.types import utcnow
from vaultapi.services import leases
from vaultapi.services.leases import run_claimed
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
    direct = Db.of_session(session)
    # In the logins' lock order (`vaultapi.services.mfa`): handshakes (taken
    # by srp/verify before the counters), counters, then pending logins. A
    # second step holds its counters while it waits for its account, and
    # then wants its pending login, which may have expired meanwhile.
    handshakes = await HandshakeRepository(direct).purge_expired(now)
    counters = await RateLimitRepository(direct).purge_expired(now)
    second_factor = await MFARepository(session).purge_expired(
        now, pending_totp_before=now - timedelta(seconds=totp_enrolment_ttl_seconds)
    )
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
    purge is one vault revision with tombstones, so its devices learn of it.

    The candidates are read before the account's write lock: one restored
    meanwhile is kept by the DELETE's own condition, and only what the DELETE
    removed gets a tombstone (a tombstone for a restored item would make
    every device drop it). The revision comes after the DELETE, under the
    same lock, so that a purge which found every candidate restored makes
    none (devices' cached ETags stay valid). Returns the number of items
    purged."""
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
    purged = 0
    for account_id, item_ids in by_account.items():
        await repo.lock(account_id)
        deleted = await session.execute(
            delete(VaultItem)
            .where(
                col(VaultItem.account_id) == account_id,
                col(VaultItem.id).in_(item_ids),
                col(VaultItem.deleted_at) < before,  # restored meanwhile: keep it
            )
            .returning(col(VaultItem.id))
        )
        gone = deleted.scalars().all()
        if not gone:
            continue
        changed_in = await repo.bump(account_id)
        for item_id in gone:
            await repo.tombstone(account_id, item_id, "item", changed_in, now)
            purged += 1
    return purged


PURGE_LEASE = "purge"


async def run_periodically(
    sessionmaker: async_sessionmaker[AsyncSession],
    interval_seconds: float,
    trash_days: int,
    totp_enrolment_ttl_seconds: int = 900,
    *,
    access_log_days: int = 30,
    log_retention_days: int = 180,
) -> None:
    """Until cancelled (at shutdown). A failed round is logged, not fatal.
    Each task has its own lease: a round of each runs on one worker only."""
    ttl = timedelta(seconds=interval_seconds)
    while True:
        await asyncio.sleep(interval_seconds)
        await purge_expired_once(sessionmaker, ttl, trash_days, totp_enrolment_ttl_seconds)
        await purge_shares_once(sessionmaker, ttl, access_log_days)
        await purge_logs_once(sessionmaker, ttl, log_retention_days)


async def purge_expired_once(
    sessionmaker: async_sessionmaker[AsyncSession],
    ttl: timedelta,
    trash_days: int,
    totp_enrolment_ttl_seconds: int,
) -> None:
    try:
        async with sessionmaker() as session:
            round_number = await leases.claim(session, PURGE_LEASE, now=utcnow(), ttl=ttl)
            await session.commit()
        if round_number is None:
            log.debug("purge round skipped: another worker holds the lease")
            return
        async with sessionmaker() as session:
            purged = await purge_expired(
                session,
                utcnow(),
                trash_days=trash_days,
                totp_enrolment_ttl_seconds=totp_enrolment_ttl_seconds,
            )
            await session.commit()
        log.debug(
            "purge round %d ran", round_number, extra={"lease": PURGE_LEASE, "round": round_number}
        )
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
