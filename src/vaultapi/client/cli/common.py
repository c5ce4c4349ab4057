"""What every `vault` command shares: the consoles, error handling, reading
secrets, and running a command's async work.

Secrets are read without echo at a terminal, or one line at a time from
standard input when it is not one (scripts, tests): never from arguments,
which other users can read in the process list and shells keep in history.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from vaultapi.client.api import ClientError, ProblemError
from vaultapi.client.cli import store
from vaultapi.client.cli.session import NotLoggedInError, require_session
from vaultapi.client.vault import TamperedItemError

T = TypeVar("T")

out = Console(soft_wrap=True, highlight=False, markup=False)  # data, never markup
err = Console(stderr=True, soft_wrap=True, highlight=False)

TIMEOUT = 30.0


class UsageError(ClientError):
    """The user asked for something that cannot be done as asked (exit code 1)."""


def _problem_message(exc: ProblemError) -> str:
    if exc.code == "stale_revision":
        return (
            "the item changed on the server since the revision this edit was based on "
            "(someone else edited it): run `vault get` to see the current version and retry"
        )
    detail = exc.body.get("detail") or exc.body.get("title") or ""
    return str(detail)


@contextmanager
def errors() -> Iterator[None]:
    """Known failures become one line on stderr and exit code 1."""
    try:
        yield
    except NotLoggedInError as exc:
        err.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(1) from None
    except ProblemError as exc:
        err.print(f"[red]error ({exc.status} {exc.code}):[/red] {escape(_problem_message(exc))}")
        raise typer.Exit(1) from None
    except (ClientError, TamperedItemError) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    except httpx.HTTPError as exc:
        err.print(f"[red]cannot reach the server:[/red] {type(exc).__name__}: {exc}")
        raise typer.Exit(1) from None
    except OSError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None


def run(work: Callable[[], Awaitable[T]]) -> T:
    with errors():
        return asyncio.run(work())  # type: ignore[arg-type]


def http(server: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server, timeout=TIMEOUT)


def read_stdin_secret() -> str:
    text = sys.stdin.read()
    return text[:-1] if text.endswith("\n") else text


def secret_from_user(label: str, *, confirm: bool) -> str:
    """A terminal prompt without echo, or the next line of standard input."""
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    value: str = typer.prompt(label, hide_input=True, confirmation_prompt=confirm)
    return value


def master_password() -> str:
    """The master password: prompted without echo, or the first line of
    standard input when it is not a terminal. Never an option or a variable."""
    password = secret_from_user("Master password", confirm=False)
    if not password:
        err.print("[red]error:[/red] empty password")
        raise typer.Exit(2)
    return password


def require_session_or_exit() -> store.StoredSession:
    with errors():
        return require_session()


def usage_error(message: str, code: int = 2) -> typer.Exit:
    """Print `message` and return the Exit to raise (`raise usage_error(...)`)."""
    err.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(code)


def print_rows(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A table at a terminal; tab-separated lines (header first) in a pipe."""
    if not out.is_terminal:
        for row in (header, *rows):
            sys.stdout.write("\t".join(row) + "\n")
        return
    table = Table(*header)
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))  # names are data, not markup
    out.print(table)


def progress_bar() -> Progress:
    """A progress bar on stderr, shown only at a terminal (use as a context
    manager, then `add_task(description, total=n)` and `advance`)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=not err.is_terminal,
        transient=True,
    )
