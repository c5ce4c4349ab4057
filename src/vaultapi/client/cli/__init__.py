"""`vault`: the end-user command line (login, time-limited shares).

Secrets never come from the command line's arguments (other users can read
those in the process list, and shells keep them in their history): the
password, share secrets and passphrases are prompted for without echo, or
read from standard input when it is not a terminal.

    vault login [--server URL] [--email E] [--password-stdin]
    vault status | vault logout
    vault share create [--ttl 1h] [--views 1] [--passphrase]   # secret: prompt or stdin
    vault share open LINK|-                                     # prints the secret
    vault share ls | vault share revoke ID
"""

from __future__ import annotations

import asyncio
import re
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Annotated, TypeVar

import httpx
import typer
from rich.console import Console
from rich.table import Table

from vaultapi.client.api import ClientError, ProblemError
from vaultapi.client.cli import store
from vaultapi.client.cli.session import (
    NotLoggedInError,
    fresh_token,
    login_flow,
    require_session,
)
from vaultapi.client.shares import Share
from vaultapi.crypto import CryptoError
from vaultapi.crypto import share as share_crypto

T = TypeVar("T")

app = typer.Typer(
    name="vault",
    help="vaultapi from the command line: log in, share secrets for a limited time.",
    no_args_is_help=True,
    add_completion=False,
)
share_app = typer.Typer(help="Time-limited shares.", no_args_is_help=True)
app.add_typer(share_app, name="share")

out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)

TIMEOUT = 30.0
_DURATION = re.compile(r"^(\d+)\s*([mhd]?)$")
_UNITS = {"": 1, "m": 1, "h": 60, "d": 24 * 60}


def parse_ttl(text: str) -> timedelta:
    """`90` or `90m` (minutes), `2h`, `7d`."""
    match = _DURATION.match(text.strip().lower())
    if match is None:
        raise typer.BadParameter("use minutes (`30`, `30m`), hours (`2h`) or days (`7d`)")
    return timedelta(minutes=int(match.group(1)) * _UNITS[match.group(2)])


@contextmanager
def _errors() -> Iterator[None]:
    """Known failures become one line on stderr and exit code 1 (2 for usage)."""
    try:
        yield
    except NotLoggedInError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    except ProblemError as exc:
        detail = exc.body.get("detail") or exc.body.get("title") or ""
        err.print(f"[red]error ({exc.status} {exc.code}):[/red] {detail}")
        raise typer.Exit(1) from None
    except ClientError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    except httpx.HTTPError as exc:
        err.print(f"[red]cannot reach the server:[/red] {type(exc).__name__}: {exc}")
        raise typer.Exit(1) from None


def _run(work: Callable[[], Awaitable[T]]) -> T:
    with _errors():
        return asyncio.run(work())  # type: ignore[arg-type]


def _http(server: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server, timeout=TIMEOUT)


def _read_stdin_secret() -> str:
    text = sys.stdin.read()
    return text[:-1] if text.endswith("\n") else text


def _secret_from_user(label: str, *, confirm: bool) -> str:
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    value: str = typer.prompt(label, hide_input=True, confirmation_prompt=confirm)
    return value


# -- session -------------------------------------------------------------------


@app.command()
def login(
    server: Annotated[
        str | None, typer.Option("--server", "-s", help="e.g. https://vault.example.com")
    ] = None,
    email: Annotated[str | None, typer.Option("--email", "-e")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input")
    ] = False,
) -> None:
    """Log in and remember the session (server, e-mail, refresh token; never the password)."""
    previous = store.load()
    server = server or (previous.server if previous else None) or typer.prompt("Server URL")
    email = email or (previous.email if previous else None) or typer.prompt("E-mail")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Master password", hide_input=True)
    if not password:
        err.print("[red]error:[/red] empty password")
        raise typer.Exit(2)
    server = server.rstrip("/")

    async def work() -> None:
        async with _http(server) as http:
            session = await login_flow(http, email, password, ask=typer.prompt)
        path = store.save(store.StoredSession(server, email, session.refresh_token))
        err.print(f"Logged in to {server} as {email} (session stored in {path})")

    _run(work)


@app.command()
def logout() -> None:
    """End the session on the server and forget it here."""
    saved = store.load()
    if saved is None:
        err.print("Not logged in.")
        return

    async def work() -> None:
        async with _http(saved.server) as http:
            try:
                token = await fresh_token(http, saved)
            except NotLoggedInError:
                return
            await http.post("/v1/auth/logout", headers=token.auth_header)

    try:
        _run(work)
    finally:
        store.forget()
    err.print("Logged out.")


@app.command()
def status() -> None:
    """Who is logged in where, and whether the session is still alive."""
    saved = store.load()
    if saved is None:
        out.print("Not logged in.")
        raise typer.Exit(1)

    async def work() -> None:
        async with _http(saved.server) as http:
            token = await fresh_token(http, saved)
            response = await http.get("/v1/account", headers=token.auth_header)
            if response.status_code != 200:
                raise ProblemError(response.status_code, response.json())
        out.print(f"Logged in to {saved.server} as {saved.email}")

    _run(work)


@app.command()
def token() -> None:
    """Print a fresh access token for this login (for Swagger UI's Authorize
    button, or curl). It is a bearer credential: valid for its lifetime
    (15 minutes by default) to anyone who has it."""
    saved = require_session_or_exit()

    async def work() -> None:
        async with _http(saved.server) as http:
            fresh = await fresh_token(http, saved)
        print(fresh.token)  # noqa: T201 - the token alone on stdout, for pipes

    _run(work)


# -- shares --------------------------------------------------------------------


@share_app.command("create")
def share_create(
    ttl: Annotated[
        str, typer.Option("--ttl", help="Lifetime: minutes (`30`), hours (`2h`) or days (`7d`)")
    ] = "1h",
    views: Annotated[int, typer.Option("--views", min=1, help="How often it may be opened")] = 1,
    passphrase: Annotated[
        bool, typer.Option("--passphrase", help="Also protect it with a passphrase (prompted)")
    ] = False,
) -> None:
    """Share a secret: read without echo, or from standard input when piped
    (then with --passphrase the first line is the passphrase, the rest the
    secret). Prints the link (it holds the key) and the expiry."""
    lifetime = parse_ttl(ttl)
    saved = require_session_or_exit()
    phrase = None
    if passphrase:
        phrase = _secret_from_user("Passphrase", confirm=True)
        if not phrase:
            err.print("[red]error:[/red] empty passphrase")
            raise typer.Exit(2)
    if sys.stdin.isatty():
        secret: str = typer.prompt("Secret", hide_input=True, confirmation_prompt=True)
    else:
        secret = _read_stdin_secret()
    if not secret:
        err.print("[red]error:[/red] nothing to share (empty secret)")
        raise typer.Exit(2)

    async def work() -> None:
        async with _http(saved.server) as http:
            token = await fresh_token(http, saved)
            created = await Share.create(
                http, token, secret, ttl=lifetime, views=views, passphrase=phrase
            )
        out.print(created.link)
        out.print(
            f"expires {created.expires_at.isoformat(timespec='seconds')} · "
            f"{created.info.max_views} view(s)" + (" · passphrase" if phrase else "")
        )

    _run(work)


@share_app.command("open")
def share_open(
    link: Annotated[str, typer.Argument(help="The link, or `-` to read it from stdin")],
) -> None:
    """Print the secret behind a link (spends one view). Anonymous."""
    if link == "-":
        link = sys.stdin.readline().strip()
    try:
        parsed = share_crypto.parse_link(link)
    except CryptoError as exc:
        err.print(f"[red]error:[/red] not a share link: {exc}")
        raise typer.Exit(2) from None
    phrase = _secret_from_user("Passphrase", confirm=False) if parsed.protected else None
    secret = _run(lambda: Share.open(link, phrase))
    sys.stdout.write(secret + "\n")


@share_app.command("ls")
def share_ls() -> None:
    """Your shares and their state (tab-separated when not on a terminal)."""
    saved = require_session_or_exit()

    async def work() -> None:
        async with _http(saved.server) as http:
            token = await fresh_token(http, saved)
            shares = await Share.list(http, token)
        if not shares:
            out.print("No shares.")
            return
        header = ("id", "state", "views left", "expires", "protected", "failed proofs")
        rows = [
            (
                str(item.id),
                item.state,
                f"{item.views_left}/{item.max_views}",
                item.expires_at.isoformat(timespec="seconds"),
                "yes" if item.protected else "no",
                str(item.failed_proofs),
            )
            for item in shares
        ]
        if not out.is_terminal:
            for row in (header, *rows):
                sys.stdout.write("\t".join(row) + "\n")
            return
        table = Table(*header)
        for row in rows:
            table.add_row(*row)
        out.print(table)

    _run(work)


@share_app.command("revoke")
def share_revoke(share_id: Annotated[str, typer.Argument(help="The share's id")]) -> None:
    """Revoke a share: nobody can open it any more."""
    try:
        parsed_id = uuid.UUID(share_id)
    except ValueError:
        err.print("[red]error:[/red] a share id is a UUID (see `vault share ls`)")
        raise typer.Exit(2) from None
    saved = require_session_or_exit()

    async def work() -> None:
        async with _http(saved.server) as http:
            token = await fresh_token(http, saved)
            info = await Share.revoke(http, token, parsed_id)
        out.print(f"Share {info.id} is {info.state}.")

    _run(work)


def require_session_or_exit() -> store.StoredSession:
    with _errors():
        return require_session()
