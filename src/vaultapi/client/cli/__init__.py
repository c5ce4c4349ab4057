"""`vault`: the end-user command line.

Secrets never come from the command line's arguments (other users can read
those in the process list, and shells keep them in their history): the
master password, item passwords, share secrets and codes are prompted for
without echo, or read one line each from standard input when it is not a
terminal (the master password first).

    vault login [--server URL] [--email E] [--password-stdin] | logout | status | token
    vault sync                                   # delta sync of the encrypted local copy
    vault ls [--folder F] [--search S] [--trash] [--offline]
    vault get NAME [--field password] [--copy] [--offline]
    vault add NAME [--username U] [--url URL] [--folder F] [--generate] ...
    vault edit NAME [--password] [--name N] [--if-revision R] ...
    vault rm NAME [--yes] [--purge] | restore NAME | history NAME
    vault folder ls | add NAME | rename NAME NEW | rm NAME
    vault generate [--length N] [--passphrase --words N] ...   # no login needed
    vault import FILE [--format bitwarden|csv] | export FILE [--plaintext]
    vault run --env NAME=item.field [...] -- COMMAND [ARGS]
    vault 2fa [status | enable-totp | disable | recovery-codes]
    vault sessions ls | revoke ID | revoke-others
    vault share create [--ttl 1h] [--views 1] [--passphrase] | open LINK | ls | revoke ID

Local state lives in `$VAULT_CLI_HOME` (default `~/.config/vaultapi-cli`,
0700): session.json (server, e-mail, refresh token) and cache.json (the
server's ciphertext and the sync cursor), both 0600. The account key is
derived from the master password for each command and never written.
"""

from __future__ import annotations

import re
import sys
import uuid
from datetime import timedelta
from typing import Annotated

import typer

from vaultapi.client.api import ProblemError
from vaultapi.client.cli import account, folders, generate, items, run, store, transfer
from vaultapi.client.cli.common import (
    err,
    out,
    print_rows,
    read_stdin_secret,
    require_session_or_exit,
    secret_from_user,
)
from vaultapi.client.cli.common import http as _http
from vaultapi.client.cli.common import run as _run
from vaultapi.client.cli.session import NotLoggedInError, fresh_token, login_flow
from vaultapi.client.shares import Share
from vaultapi.crypto import CryptoError
from vaultapi.crypto import share as share_crypto

app = typer.Typer(
    name="vault",
    help="vaultapi from the command line: your vault, generated secrets, shares.",
    no_args_is_help=True,
    add_completion=False,
)
share_app = typer.Typer(help="Time-limited shares.", no_args_is_help=True)
app.add_typer(share_app, name="share")

_DURATION = re.compile(r"^(\d+)\s*([mhd]?)$")
_UNITS = {"": 1, "m": 1, "h": 60, "d": 24 * 60}


def parse_ttl(text: str) -> timedelta:
    """`90` or `90m` (minutes), `2h`, `7d`."""
    match = _DURATION.match(text.strip().lower())
    if match is None:
        raise typer.BadParameter("use minutes (`30`, `30m`), hours (`2h`) or days (`7d`)")
    return timedelta(minutes=int(match.group(1)) * _UNITS[match.group(2)])


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
    """Print a fresh access token (for Swagger UI's Authorize button, or curl).

    It is a bearer credential: valid for its lifetime (15 minutes by default)
    to anyone who has it."""
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
    """Share a secret for a limited time; prints the link and the expiry.

    The secret is read without echo, or from standard input when piped (then
    with --passphrase the first line is the passphrase, the rest the secret).
    The link holds the key."""
    lifetime = parse_ttl(ttl)
    saved = require_session_or_exit()
    phrase = None
    if passphrase:
        phrase = secret_from_user("Passphrase", confirm=True)
        if not phrase:
            err.print("[red]error:[/red] empty passphrase")
            raise typer.Exit(2)
    if sys.stdin.isatty():
        secret: str = typer.prompt("Secret", hide_input=True, confirmation_prompt=True)
    else:
        secret = read_stdin_secret()
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
    phrase = secret_from_user("Passphrase", confirm=False) if parsed.protected else None
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
        print_rows(header, rows)

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


# -- the vault, generator, account (their own modules), after login & co. in --help

app.add_typer(folders.folder_app, name="folder")
app.add_typer(account.twofa_app, name="2fa")
app.add_typer(account.sessions_app, name="sessions")
app.command("sync")(items.sync)
app.command("ls")(items.list_items)
app.command("get")(items.get)
app.command("add")(items.add)
app.command("edit")(items.edit)
app.command("rm")(items.remove)
app.command("restore")(items.restore)
app.command("history")(items.history)
app.command("generate")(generate.generate)
app.command("import")(transfer.import_file)
app.command("export")(transfer.export_file)
app.command("run", context_settings={"allow_interspersed_args": False}, no_args_is_help=True)(
    run.run_command
)
