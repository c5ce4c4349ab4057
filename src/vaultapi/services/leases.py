"""Periodic work done once per interval by the whole deployment, not once
per worker process.

Every worker runs the same timers; before doing a round of some periodic
work, it claims that work's lease in the database for `ttl`. The one claim
that lands does the round; every other worker finds the lease held and
skips. A worker that dies mid-round holds the lease only until it expires.
Clocks of different machines should agree to within a small part of `ttl`
(NTP), as they must for token expiry anyway.

Reusable: any periodic task picks a lease name of its own.
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from vaultapi.db.repositories.leases import LeaseRepository

WORKER_ID = f"{socket.gethostname()[:80]}:{os.getpid()}:{secrets.token_hex(4)}"
"""This process, as a lease holder (the random part tells apart a restarted
process that got the same pid)."""


async def claim(
    session: AsyncSession, name: str, *, now: datetime, ttl: timedelta, holder: str = WORKER_ID
) -> int | None:
    """Claim lease `name` for `ttl`: the claim count when this worker got it
    (do the work), None when another worker holds it (skip). The caller
    commits at once, so that other workers see the claim."""
    return await LeaseRepository(session).claim(name, holder, now=now, ttl=ttl)
