"""Dependencies, as `Annotated` aliases for route signatures.

`SessionDep` gives each request one `AsyncSession` and commits it when the
route function returns, *before* the response is sent (`scope="function"`):
a client never sees a 2xx for a write that then failed to commit. A route
that raises gets a rollback instead, unless the error says `keep_changes`.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from vaultapi.config import Settings
from vaultapi.db.direct import Db
from vaultapi.db.types import utcnow
from vaultapi.errors import AdminRequired, IPBlocked, Unauthorized, VaultAPIError
from vaultapi.proxies import UNKNOWN_PEER
from vaultapi.runtime import Runtime
from vaultapi.services.context import ClientInfo
from vaultapi.services.ip_rules import blocking_rule
from vaultapi.services.sessions import Caller, CurrentSession, SessionService, authenticate_direct


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


async def get_reader(runtime: RuntimeDep) -> AsyncIterator[Db]:
    """Direct, read-only database access (`vaultapi.db.direct`) for hot read
    routes: no ORM session and, on PostgreSQL, no transaction."""
    db = Db(runtime.engine, write=False)
    try:
        yield db
    finally:
        await db.close(commit=False)


ReaderDep = Annotated[Db, Depends(get_reader, scope="function")]


@contextlib.asynccontextmanager
async def _writing(runtime: Runtime) -> AsyncIterator[Db]:
    """A writing `Db`, committed when the block ends without an error (or with
    one that says `keep_changes`), rolled back otherwise."""
    db = Db(runtime.engine, write=True)
    try:
        yield db
    except VaultAPIError as error:
        await db.close(commit=error.keep_changes)
        raise
    except BaseException:
        await db.close(commit=False)
        raise
    await db.close(commit=True)


async def get_writer(runtime: RuntimeDep) -> AsyncIterator[Db]:
    """Direct database access in one transaction, committed when the route
    function returns, before the response is sent (as `SessionDep`)."""
    async with _writing(runtime) as db:
        yield db


WriterDep = Annotated[Db, Depends(get_writer, scope="function")]


def client_ip(request: Request) -> str:
    """The caller's address as `ForwardedHeadersMiddleware` determined it: the
    TCP peer, or what a trusted proxy forwarded (see `vaultapi.proxies`)."""
    return _normalized_address(request.client.host if request.client else "")


@functools.lru_cache(maxsize=4096)
def _normalized_address(host: str) -> str:
    """Cached: `ipaddress` parses in pure Python (a tenth of a prelogin's own
    interpreter work), and the same few addresses call again and again."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        # Not an address (a Unix socket, or a proxy layer that passed junk):
        # all such callers share one bucket, so junk cannot mint new ones.
        return UNKNOWN_PEER


def _client_info(request: Request) -> ClientInfo:
    return ClientInfo(
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent", "")[:256],
    )


async def get_client(request: Request) -> ClientInfo:
    return _client_info(request)


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
    request: Request,
    sessions: SessionServiceDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> CurrentSession:
    current = await sessions.authenticate(_bearer_token(credentials))
    request.state.account_id = str(current.account.id)  # for the access log line
    return current


CurrentDep = Annotated[CurrentSession, Depends(get_current)]


def _bearer_token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized(
            "Send an access token: `Authorization: Bearer <token>`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return credentials.credentials


async def get_bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The access token sent, unchecked (for routes that check it themselves)."""
    return _bearer_token(credentials)


BearerTokenDep = Annotated[str, Depends(get_bearer_token)]


async def get_reading_caller(
    request: Request,
    db: ReaderDep,
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The caller of a hot read route, checked like `CurrentDep` (token, live
    session, active account) in one direct statement."""
    caller = await authenticate_direct(db, runtime, _bearer_token(credentials))
    request.state.account_id = str(caller.account_id)  # for the access log line
    return caller


ReadingCallerDep = Annotated[Caller, Depends(get_reading_caller)]


async def get_writing_caller(
    request: Request,
    db: WriterDep,
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The caller of a direct-path route that writes (`WriterDep`), checked
    like `CurrentDep` in one direct statement, in the route's own transaction."""
    caller = await authenticate_direct(db, runtime, _bearer_token(credentials))
    request.state.account_id = str(caller.account_id)  # for the access log line
    return caller


WritingCallerDep = Annotated[Caller, Depends(get_writing_caller)]


OPTIONAL_AUTH_OPENAPI: dict[str, Any] = {"security": [{"accessToken": []}, {}]}
"""`openapi_extra` of a route that takes an optional bearer token and reads it
itself (srp/verify, through `login_verifying`): `[{accessToken: []}, {}]` is
OpenAPI for "a bearer token, or none". Without it, generated SDKs would either
demand a token before login or never send one for a step-up."""


async def get_admin(current: CurrentDep) -> CurrentSession:
    """The caller, if their account has the admin role (read from the database
    on this request, not from the token: a revoked role ends at once)."""
    if current.account.role != "admin":
        raise AdminRequired("This needs an admin account")
    return current


AdminDep = Annotated[CurrentSession, Depends(get_admin)]


async def _refuse_blocked(db: Db, runtime: Runtime, client: ClientInfo) -> None:
    rule = blocking_rule(client.ip, await runtime.ip_rules.live(db, utcnow()))
    if rule is not None:
        raise IPBlocked(
            "Requests from this address are blocked by the operator",
            extra={"until": rule.expires_at.isoformat() if rule.expires_at else None},
        )


async def refuse_blocked_ip(session: SessionDep, runtime: RuntimeDep, client: ClientDep) -> None:
    """On authentication routes: 403 for an address an operator blocked.

    The check runs on the connection the route uses anyway (one statement,
    no second connection): this one in the request's ORM session; the login
    routes' own dependency (`login_*`, below) makes it on the direct path
    (`vaultapi.db.direct`)."""
    await _refuse_blocked(Db.of_session(session), runtime, client)


# --- the login routes: no dependency at all ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoginContext:
    """What prelogin, srp/start and srp/verify need: a `Db`, the runtime and
    the client, after the IP-block check; the caller too at srp/verify.

    Why these routes take no dependency: FastAPI's dependency solving costs
    about 25 µs per dependency a request resolves (measured on FastAPI 0.165),
    and a dependency that yields (to close the `Db` after the route) costs
    more: an exit stack and a shielded context manager around it. Each login
    route enters one of `login_reading`, `login_writing`, `login_verifying`
    in its own body instead (callgrind: 0.17 M instructions fewer per request
    of a login's 24.6 M). Same behaviour as `ReaderDep`/`WriterDep` +
    `RuntimeDep` + `ClientDep` + the IP-block check (`refuse_blocked_ip`),
    which the other routes keep, with one difference in order: the body is
    validated before the IP-block check, so a blocked address that sends a
    malformed body gets the 400 or 422 about it, not the 403."""

    db: Db
    runtime: Runtime
    client: ClientInfo
    caller: Caller | None = None
    """srp/verify only: the session of the bearer token sent (a step-up)."""


@contextlib.asynccontextmanager
async def login_reading(request: Request) -> AsyncIterator[LoginContext]:
    """Prelogin: a read-only `Db`, after the IP-block check on it."""
    runtime: Runtime = request.app.state.runtime
    client = _client_info(request)
    db = Db(runtime.engine, write=False)
    try:
        await _refuse_blocked(db, runtime, client)
        yield LoginContext(db, runtime, client)
    finally:
        await db.close(commit=False)


@contextlib.asynccontextmanager
async def login_writing(request: Request) -> AsyncIterator[LoginContext]:
    """srp/start: a writing `Db` (as `WriterDep`: committed when the block
    ends, before the response), after the IP-block check on it."""
    runtime: Runtime = request.app.state.runtime
    client = _client_info(request)
    async with _writing(runtime) as db:
        await _refuse_blocked(db, runtime, client)
        yield LoginContext(db, runtime, client)


@contextlib.asynccontextmanager
async def login_verifying(request: Request) -> AsyncIterator[LoginContext]:
    """srp/verify: `login_writing`, plus the caller when a bearer token is
    sent, checked like `WritingCallerDep` (in the route's transaction); None
    without one. The route declares the optional token with
    `OPTIONAL_AUTH_OPENAPI`."""
    runtime: Runtime = request.app.state.runtime
    client = _client_info(request)
    credentials = await _bearer(request)
    async with _writing(runtime) as db:
        await _refuse_blocked(db, runtime, client)
        caller = None
        if credentials is not None:
            caller = await authenticate_direct(db, runtime, _bearer_token(credentials))
            request.state.account_id = str(caller.account_id)  # for the access log line
        yield LoginContext(db, runtime, client, caller)


REFUSE_BLOCKED_IP = (refuse_blocked_ip,)
"""The IP-block check of every other authentication route (`tests/api/test_admin.py` checks)."""
LOGIN_CONTEXTS = (login_reading, login_writing, login_verifying)
"""What each login route enters instead (the same test checks)."""
