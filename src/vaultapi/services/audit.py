"""The account's security events (`audit_events`): what its owner and the
operator can read back. Recorded by the services where the event happens.

`record_login` runs at the end of every login, on the login's own `Db`
(`vaultapi.db.direct`: the hot path has no ORM session); ORM callers pass
`Db.of_session(session)`."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from vaultapi.db.direct import Db
from vaultapi.db.repositories.admin import AuditRepository, LoginAudit
from vaultapi.services.context import ClientInfo


async def record(
    session: AsyncSession,
    client: ClientInfo,
    account_id: uuid.UUID,
    action: str,
    detail: str = "",
) -> None:
    await AuditRepository(session).record(account_id, action, ip=client.ip, detail=detail)


def login_device(client: ClientInfo, device_name: str) -> str:
    """What the audit log calls the device of a login."""
    return (device_name or client.user_agent)[:128]


async def record_login(db: Db, client: ClientInfo, account_id: uuid.UUID, device_name: str) -> None:
    """`login`, or `new_device` the first time a device name logs in."""
    device = login_device(client, device_name)
    await LoginAudit(db).record_login(account_id, ip=client.ip, device=device)
