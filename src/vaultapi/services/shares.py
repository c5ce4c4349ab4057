"""Time-limited shares: rules for creating, opening, listing and revoking.

Opening is decided under a row lock on the share (`lock_for_open`), so N
allowed views are exactly N and the `max_failed_proofs`-th wrong proof locks
the share before any later attempt is looked at, whatever the number of
concurrent requests and workers.

What the anonymous caller learns: a share that cannot be opened — unknown,
expired, used up, revoked, or locked after wrong proofs — always gets the
same 410 `share_gone`, whose body depends on none of these (nor on the
secret's size). The owner sees which it was (`ShareStatus.state`) and the
access log. Ciphertext is dropped from the row as soon as the share can no
longer be opened; the row goes with the periodic purge after expiry.

Every attempt leaves a `share_access` row (time, share id, IP, outcome) and a
log line with the same fields; nothing derived from the secret, the key or
the proof is ever logged or put in an error.
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from vaultapi.config import ShareSettings
from vaultapi.crypto import CryptoError, encstring
from vaultapi.db.direct import Db
from vaultapi.db.models import Share, ShareAccess
from vaultapi.db.repositories.admin import AuditRepository, UsageRepository
from vaultapi.db.repositories.ratelimits import RateLimitRepository
from vaultapi.db.repositories.shares import ShareAccessRepository, ShareRepository
from vaultapi.db.types import utcnow
from vaultapi.errors import (
    AccessProofRequired,
    InvalidAccessProof,
    InvalidCiphertext,
    ItemExists,
    LimitReached,
    NotFound,
    ShareGone,
    ShareOutOfRange,
    TooManyAttempts,
)
from vaultapi.schemas.shares import ShareCreate, ShareState
from vaultapi.services.abuse import ip_bucket

log = logging.getLogger(__name__)

PROOF_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
"""Argon2id for access proofs. A proof is 256 bits derived from the link's key,
so a stolen hash cannot be brute-forced; OWASP's minimum keeps the server's
CPU per open low."""

GONE_DETAIL = "This share does not exist, has expired, was used up or was revoked"
PURGE_TASK = "shares.purge"


def share_state(share: Share, now: datetime) -> ShareState:
    """The one place that decides whether a share can be opened at `now`:
    open while `now < expires_at`, gone from `expires_at` on."""
    if share.revoked_at is not None:
        return ShareState.REVOKED
    if share.locked_at is not None:
        return ShareState.LOCKED
    if now >= share.expires_at:
        return ShareState.EXPIRED
    if share.views_used >= share.max_views:
        return ShareState.USED_UP
    return ShareState.ACTIVE


def views_left(share: Share, now: datetime) -> int:
    if share_state(share, now) is not ShareState.ACTIVE:
        return 0
    return share.max_views - share.views_used


@dataclass(frozen=True)
class Opened:
    share_id: uuid.UUID
    ciphertext: str
    expires_at: datetime
    views_left: int


def _verify_proof(proof_hash: str, proof: bytes) -> bool:
    try:
        return PROOF_HASHER.verify(proof_hash, proof)
    except (VerificationError, InvalidHashError):
        return False


class ShareService:
    def __init__(self, session: AsyncSession, settings: ShareSettings) -> None:
        self.session = session
        self.settings = settings
        self.repo = ShareRepository(session)
        self.access = ShareAccessRepository(session)

    # -- owner -------------------------------------------------------------------

    async def create(self, owner: uuid.UUID, body: ShareCreate) -> Share:
        settings = self.settings
        try:
            encstring.check_shape(body.ciphertext, max_length=settings.max_secret_chars)
        except CryptoError as exc:
            raise InvalidCiphertext(f"ciphertext: {exc}") from exc
        if body.expires_in_minutes > settings.max_ttl_minutes:
            raise ShareOutOfRange(
                f"expires_in_minutes may be at most {settings.max_ttl_minutes}",
                extra={"max_ttl_minutes": settings.max_ttl_minutes},
            )
        if body.max_views > settings.max_views:
            raise ShareOutOfRange(
                f"max_views may be at most {settings.max_views}",
                extra={"max_views": settings.max_views},
            )
        if await self.repo.count_owned(owner) >= settings.max_active_per_account:
            raise LimitReached(
                f"An account may hold {settings.max_active_per_account} shares: "
                "revoke some, or wait until they expire"
            )
        if await self.repo.exists(body.id):
            raise ItemExists("A share with this id already exists: generate a new id")
        proof_hash = None
        if body.access_proof is not None:
            proof = bytes.fromhex(body.access_proof)
            proof_hash = await asyncio.to_thread(PROOF_HASHER.hash, proof)
        now = utcnow()
        share = Share(
            id=body.id,
            account_id=owner,
            ciphertext=body.ciphertext,
            proof_hash=proof_hash,
            max_views=body.max_views,
            created_at=now,
            expires_at=now + timedelta(minutes=body.expires_in_minutes),
        )
        try:
            async with self.session.begin_nested():
                await self.repo.add(share)
        except IntegrityError:  # the same id created concurrently
            raise ItemExists("A share with this id already exists: generate a new id") from None
        await UsageRepository(self.session).bump("shares_created", now, owner)
        return share

    async def list(self, owner: uuid.UUID) -> Sequence[Share]:
        return await self.repo.list_owned(owner)

    async def get(self, owner: uuid.UUID, share_id: uuid.UUID) -> Share:
        share = await self.repo.get_owned(owner, share_id)
        if share is None:
            raise NotFound("No such share")
        return share

    async def revoke(self, owner: uuid.UUID, share_id: uuid.UUID) -> Share:
        """Idempotent: revoking a revoked share changes nothing."""
        share = await self.repo.get_owned(owner, share_id, for_update=True)
        if share is None:
            raise NotFound("No such share")
        if share.revoked_at is None:
            share.revoked_at = utcnow()
            share.ciphertext = None
            await self.session.flush()
        return share

    async def access_log(self, owner: uuid.UUID, share_id: uuid.UUID) -> Sequence[ShareAccess]:
        await self.get(owner, share_id)
        return await self.access.for_share(share_id)

    # -- anonymous ---------------------------------------------------------------

    async def _record(self, share_id: uuid.UUID, ip: str, outcome: str, now: datetime) -> None:
        await self.access.record(share_id, ip, outcome, now)
        log.info("share access: %s", outcome, extra={"share_id": str(share_id), "client_ip": ip})

    async def _count_open(self, share_id: uuid.UUID, ip: str, now: datetime) -> None:
        window = timedelta(seconds=self.settings.ip_window_seconds)
        counter = await RateLimitRepository(Db.of_session(self.session)).hit(
            f"ip-share-open:{ip_bucket(ip)}", now=now, window=window
        )
        if counter.count > self.settings.ip_opens_per_window:
            await self._record(share_id, ip, "rate_limited", now)
            retry_after = max(1, math.ceil((counter.window_start + window - now).total_seconds()))
            raise TooManyAttempts(
                f"Too many share retrievals from this address; retry in {retry_after} s",
                headers={"Retry-After": str(retry_after)},
                extra={"retry_after": retry_after},
                keep_changes=True,
            )

    async def open(self, share_id: uuid.UUID, proof: bytes | None, ip: str) -> Opened:
        await self._count_open(share_id, ip, utcnow())
        share = await self.repo.lock_for_open(share_id)
        now = utcnow()  # after the wait for the lock: the time this attempt counts at
        if share is None or share_state(share, now) is not ShareState.ACTIVE:
            await self._record(share_id, ip, "gone", now)
            raise ShareGone(GONE_DETAIL, keep_changes=True)
        if share.proof_hash is not None:
            if proof is None:
                await self._record(share_id, ip, "proof_required", now)
                raise AccessProofRequired(
                    "This share is protected: send the access proof derived from its passphrase",
                    keep_changes=True,
                )
            if not await asyncio.to_thread(_verify_proof, share.proof_hash, proof):
                await self._wrong_proof(share, ip, now)
        assert share.ciphertext is not None  # noqa: S101 - active shares keep their ciphertext
        ciphertext = share.ciphertext
        share.views_used += 1
        share.last_opened_at = now
        if share.views_used >= share.max_views:
            share.ciphertext = None  # used up: nothing left to leak
        await self.session.flush()
        await self._record(share_id, ip, "opened", now)
        await UsageRepository(self.session).bump("shares_opened", now, share.account_id)
        await AuditRepository(self.session).record(
            share.account_id, "share_opened", ip=ip, detail=str(share_id), anonymous=True
        )
        return Opened(
            share_id=share.id,
            ciphertext=ciphertext,
            expires_at=share.expires_at,
            views_left=share.max_views - share.views_used,
        )

    async def _wrong_proof(self, share: Share, ip: str, now: datetime) -> None:
        share.failed_proofs += 1
        left = max(0, self.settings.max_failed_proofs - share.failed_proofs)
        outcome = "wrong_proof"
        if left == 0:
            share.locked_at = now
            share.ciphertext = None
            outcome = "locked"
        await self.session.flush()
        await self._record(share.id, ip, outcome, now)
        raise InvalidAccessProof(
            "Wrong passphrase"
            + ("; the share is now locked" if left == 0 else f"; {left} attempt(s) left"),
            extra={"attempts_left": left},
            keep_changes=True,
        )


@dataclass(frozen=True)
class SharesPurged:
    shares: int
    access_records: int


async def purge_shares(
    session: AsyncSession, now: datetime, *, access_log_days: int
) -> SharesPurged:
    """Expired shares, and access records older than `access_log_days`."""
    shares = await ShareRepository(session).purge_expired(now)
    records = await ShareAccessRepository(session).purge_before(
        now - timedelta(days=access_log_days)
    )
    return SharesPurged(shares, records)
