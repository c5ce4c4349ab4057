"""`vault 2fa ...` and `vault sessions ...`: the account's second factors and
its logged-in devices, over `/v1/account/mfa` and `/v1/account/sessions`.

Changing a second factor needs a recent proof of the password: the command
asks for the master password and re-runs the SRP handshake on this session
(`client.reauthenticate`) first. Codes are read like passwords: prompted, or
the next line of standard input.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import httpx
import typer

from vaultapi import client
from vaultapi.client.api import API, ProblemError
from vaultapi.client.cli import store
from vaultapi.client.cli.common import (
    http,
    master_password,
    out,
    print_rows,
    require_session_or_exit,
    run,
    secret_from_user,
    usage_error,
)
from vaultapi.client.cli.session import AccessToken, fresh_token

twofa_app = typer.Typer(help="Second factors: authenticator app (TOTP), recovery codes.")
sessions_app = typer.Typer(help="Where this account is logged in.", no_args_is_help=True)


async def _call(
    http_client: httpx.AsyncClient,
    method: str,
    path: str,
    auth: dict[str, str],
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    response = await http_client.request(method, API + path, json=body, headers=auth)
    if response.status_code >= 400:
        raise ProblemError(response.status_code, response.json())
    if response.status_code == 204 or not response.content:
        return {}
    result: dict[str, Any] = response.json()
    return result


@asynccontextmanager
async def _authorized() -> AsyncIterator[tuple[httpx.AsyncClient, AccessToken]]:
    saved = require_session_or_exit()
    async with http(saved.server) as http_client:
        yield http_client, await fresh_token(http_client, saved)


@asynccontextmanager
async def _recently_authenticated(
    password: str,
) -> AsyncIterator[tuple[httpx.AsyncClient, client.Login]]:
    """This session, with the password proved again just now."""
    saved = require_session_or_exit()
    async with http(saved.server) as http_client:
        token = await fresh_token(http_client, saved)
        account = await _call(http_client, "GET", "/account", token.auth_header)
        login = client.Login(
            account_id=uuid.UUID(account["id"]),
            session_id=token.session_id,
            access_token=token.token,
            refresh_token="",
            expires_in=0,
            account_key=b"",  # not needed: re-authentication proves the password only
            keys={},
        )
        await client.reauthenticate(http_client, login, saved.email, password)
        store.save(store.StoredSession(saved.server, saved.email, login.refresh_token))
        yield http_client, login


# -- 2fa -------------------------------------------------------------------------


@twofa_app.callback(invoke_without_command=True)
def twofa(ctx: typer.Context) -> None:
    """Second factors: `vault 2fa` alone shows the status."""
    if ctx.invoked_subcommand is None:
        twofa_status()


@twofa_app.command("status")
def twofa_status() -> None:
    """Which second factors a login of this account needs."""

    async def work() -> None:
        async with _authorized() as (http_client, token):
            state = await _call(http_client, "GET", "/account/mfa", token.auth_header)
        totp = state["totp"]
        out.print(f"authenticator app (TOTP): {'on' if totp['enabled'] else 'off'}")
        out.print(f"security keys: {len(state['webauthn'])}")
        out.print(f"recovery codes left: {state['recovery_codes_left']}")

    run(work)


def _print_codes(codes: list[str]) -> None:
    out.print("Recovery codes (each works once; store them offline, they are shown only now):")
    for code in codes:
        typer.echo(f"  {code}")


@twofa_app.command("enable-totp")
def twofa_enable_totp() -> None:
    """Turn on an authenticator app: prints its secret, then asks for a code from it."""
    password = master_password()

    async def work() -> None:
        async with _recently_authenticated(password) as (http_client, login):
            enrolment = await _call(http_client, "POST", "/account/mfa/totp", login.auth_header)
            out.print(
                "Add this to your authenticator app (secret, or the otpauth URI as a QR code):"
            )
            typer.echo(f"  secret: {enrolment['secret']}")
            typer.echo(f"  uri:    {enrolment['otpauth_uri']}")
            code = secret_from_user("Code from the app", confirm=False).strip()
            if not code:
                raise usage_error("no code given: TOTP stays off", 1)
            enabled = await _call(
                http_client, "POST", "/account/mfa/totp/confirm", login.auth_header, {"code": code}
            )
        out.print("TOTP is on: logins now ask for a code.")
        if enabled.get("recovery_codes"):
            _print_codes(enabled["recovery_codes"])

    run(work)


@twofa_app.command("disable")
def twofa_disable(
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")] = False,
) -> None:
    """Turn the authenticator app off."""
    password = master_password()
    if not yes and not typer.confirm("Turn TOTP off?"):
        raise usage_error("nothing done", 1)

    async def work() -> None:
        async with _recently_authenticated(password) as (http_client, login):
            await _call(http_client, "DELETE", "/account/mfa/totp", login.auth_header)
        out.print("TOTP is off.")

    run(work)


@twofa_app.command("recovery-codes")
def twofa_recovery_codes() -> None:
    """A new set of recovery codes (the old set stops working)."""
    password = master_password()

    async def work() -> None:
        async with _recently_authenticated(password) as (http_client, login):
            body = await _call(
                http_client, "POST", "/account/mfa/recovery-codes", login.auth_header
            )
        _print_codes(body["recovery_codes"])

    run(work)


# -- sessions --------------------------------------------------------------------


@sessions_app.command("ls")
def sessions_ls() -> None:
    """This account's sessions; `*` marks this one."""

    async def work() -> None:
        async with _authorized() as (http_client, token):
            body = await _call(http_client, "GET", "/account/sessions", token.auth_header)
        rows = [
            (
                ("* " if s["current"] else "  ") + s["id"],
                s["device_name"],
                s["last_ip"],
                s["last_used_at"][:19],
                s["expires_at"][:19],
            )
            for s in body["sessions"]
        ]
        print_rows(("id", "device", "last ip", "last used", "expires"), rows)

    run(work)


@sessions_app.command("revoke")
def sessions_revoke(
    session_id: Annotated[str, typer.Argument(help="From `vault sessions ls`")],
) -> None:
    """End one session (that device must log in again)."""
    try:
        parsed = uuid.UUID(session_id)
    except ValueError:
        raise usage_error("a session id is a UUID (see `vault sessions ls`)") from None

    async def work() -> None:
        async with _authorized() as (http_client, token):
            await _call(http_client, "DELETE", f"/account/sessions/{parsed}", token.auth_header)
            if token.session_id == parsed:
                store.forget()
        out.print(f"Session {parsed} ended.")

    run(work)


@sessions_app.command("revoke-others")
def sessions_revoke_others() -> None:
    """End every session of this account but this one."""

    async def work() -> None:
        async with _authorized() as (http_client, token):
            body = await _call(
                http_client, "POST", "/account/sessions/revoke-others", token.auth_header
            )
        out.print(f"Ended {body['revoked']} other session(s).")

    run(work)
