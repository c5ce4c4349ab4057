"""Dependencies, as `Annotated` aliases for route signatures.

`SessionDep` gives each request one `AsyncSession` and commits it when the
route function returns, *before* the response is sent (`scope="function"`):
a client never sees a 2xx for a write that then failed to commit. A route
that raises gets a rollback instead, unless the error says `keep_changes`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from vaultapi.config import Settings
from vaultapi.errors import Unauthorized, VaultAPIError
from vaultapi.proxies import UNKNOWN_PEER
from vaultapi.runtime import Runtime
from vaultapi.services.context import ClientInfo
from vaultapi.services.sessions import CurrentSession, SessionService


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_settings(runtime: RuntimeDep) -> Settings:
    return runtime.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    async with runtime.sessionmaker() as session:
        try:
            yield session
        except VaultAPIError as error:
            if error.keep_changes:
                await session.commit()
            else:
                await session.rollback()
            raise
        except BaseException:
            await session.rollback()
            raise
        await session.commit()


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


def client_ip(request: Request) -> str:
    """The caller's address as `ForwardedHeadersMiddleware` determined it: the
    TCP peer, or what a trusted proxy forwarded (see `vaultapi.proxies`)."""
    host = request.client.host if request.client else ""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        # Not an address (a Unix socket, or a proxy layer that passed junk):
        # all such callers share one bucket, so junk cannot mint new ones.
        return UNKNOWN_PEER


async def get_client(request: Request) -> ClientInfo:
    return ClientInfo(
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent", "")[:256],
    )


ClientDep = Annotated[ClientInfo, Depends(get_client)]


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="accessToken",
    description="Access token from `srp/verify` or `refresh` (JWT, short-lived)",
)


async def get_session_service(
    session: SessionDep, runtime: RuntimeDep, client: ClientDep
) -> SessionService:
    return SessionService(session, runtime, client)


SessionServiceDep = Annotated[SessionService, Depends(get_session_service)]


async def get_current(
    sessions: SessionServiceDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> CurrentSession:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized(
            "Send an access token: `Authorization: Bearer <token>`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return await sessions.authenticate(credentials.credentials)


CurrentDep = Annotated[CurrentSession, Depends(get_current)]


async def get_optional_current(
    sessions: SessionServiceDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> CurrentSession | None:
    """The caller's session when a bearer token is sent (and valid), else None."""
    if credentials is None:
        return None
    return await get_current(sessions, credentials)


OptionalCurrentDep = Annotated[CurrentSession | None, Depends(get_optional_current)]
