"""The `vaultapi` command: serve, migrate, export the contract, make keys."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from vaultapi.config import Settings
from vaultapi.errors import ConfigurationError, DatabaseUnreachable

app = typer.Typer(
    name="vaultapi",
    help="vaultapi server: zero-knowledge password-manager API.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")
admin_app = typer.Typer(
    help="Admin role (the operator's shell is the bootstrap).", no_args_is_help=True
)
app.add_typer(admin_app, name="admin")

err = Console(stderr=True, soft_wrap=True)  # no hard wrapping: messages end up in logs
T = TypeVar("T")


def _settings() -> Settings:
    try:
        return Settings()
    except ValueError as exc:  # pydantic's ValidationError names the offending variable
        err.print(f"[red]Invalid settings:[/red]\n{exc}")
        raise typer.Exit(2) from exc


def _fail(exc: ConfigurationError, heading: str) -> typer.Exit:
    err.print(f"[red]{exc.render(heading)}[/red]", highlight=False)
    return typer.Exit(2)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.", min=0, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1, max=256)] = 1,
    ssl_certfile: Annotated[
        Path | None, typer.Option(help="TLS certificate chain (PEM): serve HTTPS.", exists=True)
    ] = None,
    ssl_keyfile: Annotated[
        Path | None, typer.Option(help="TLS private key (PEM).", exists=True)
    ] = None,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(help="Comma-separated proxy addresses whose X-Forwarded-* headers to trust."),
    ] = None,
) -> None:
    """Run the API server (uvicorn)."""
    import uvicorn

    from vaultapi.db import migrate
    from vaultapi.logs import configure_logging
    from vaultapi.main import check_startable
    from vaultapi.server_keys import load_server_keys

    if forwarded_allow_ips is not None and "*" in forwarded_allow_ips.split(","):
        err.print(
            "[red]--forwarded-allow-ips '*' would believe any client's X-Forwarded-For "
            "(spoofed addresses defeat per-IP limits): list your proxies' addresses[/red]"
        )
        raise typer.Exit(2)
    if (ssl_certfile is None) != (ssl_keyfile is None):
        err.print("[red]--ssl-certfile and --ssl-keyfile go together[/red]")
        raise typer.Exit(2)
    settings = _settings()
    configure_logging(settings.log)
    try:
        check_startable(settings)
        # Before forking workers: generate development secrets and migrate
        # once, so that workers do not race each other to do it.
        load_server_keys(settings)
        if settings.auto_migrate:
            asyncio.run(_with_engine(_cli_engine(), migrate.upgrade))
    except ConfigurationError as exc:
        raise _fail(exc, "vaultapi cannot start") from exc
    except (DatabaseUnreachable, DBAPIError) as exc:
        err.print(f"[red]vaultapi cannot start: migrating the database failed: {exc}[/red]")
        raise typer.Exit(1) from exc

    uvicorn.run(
        "vaultapi.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
        ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
        proxy_headers=forwarded_allow_ips is not None,
        forwarded_allow_ips=forwarded_allow_ips,
        server_header=False,
        log_config=None,
    )


def _cli_engine() -> AsyncEngine:
    from vaultapi.db.engine import create_engine
    from vaultapi.storage import prepare_database_storage

    settings = _settings()
    try:
        url = settings.effective_database_url()
    except ConfigurationError as exc:
        raise _fail(exc, "invalid database configuration") from exc
    prepare_database_storage(settings)
    return create_engine(url, settings.database)


async def _with_engine(engine: AsyncEngine, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    try:
        return await work(engine)
    finally:
        await engine.dispose()


def _revisions(revisions: frozenset[str]) -> str:
    return ", ".join(sorted(revisions)) or "base"


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    from vaultapi.db import migrate

    async def work(engine: AsyncEngine) -> frozenset[str]:
        await migrate.upgrade(engine, revision)
        return await migrate.current_revisions(engine)

    current = asyncio.run(_with_engine(_cli_engine(), work))
    typer.echo(f"database at {_revisions(current)}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision or 'base'.")],
) -> None:
    """Revert migrations down to REVISION."""
    from vaultapi.db import migrate

    async def work(engine: AsyncEngine) -> frozenset[str]:
        await migrate.downgrade(engine, revision)
        return await migrate.current_revisions(engine)

    current = asyncio.run(_with_engine(_cli_engine(), work))
    typer.echo(f"database at {_revisions(current)}")


@db_app.command("current")
def db_current() -> None:
    """Print the database's revision and whether it is at the latest migration.
    Exits 1 when it is not."""
    from vaultapi.db import migrate

    current = asyncio.run(_with_engine(_cli_engine(), migrate.current_revisions))
    heads = migrate.head_revisions()
    state = "at head" if current == heads else f"behind (head: {_revisions(heads)})"
    typer.echo(f"{_revisions(current)} ({state})")
    if current != heads:
        raise typer.Exit(1)


@app.command()
def openapi(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to FILE instead of stdout.")
    ] = None,
) -> None:
    """Print the OpenAPI document as JSON (the committed openapi/openapi.json)."""
    from vaultapi.main import create_app
    from vaultapi.openapi import render_openapi

    document = render_openapi(create_app(_settings()))
    if output is None:
        sys.stdout.write(document)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(document)
        err.print(f"wrote {output}")


@app.command()
def keygen() -> None:
    """Print fresh production secrets as environment variable assignments."""
    import secrets

    from vaultapi.server_keys import generate_ed25519_pem

    pem = generate_ed25519_pem().strip().replace("\n", "\\n")
    typer.echo(f"VAULTAPI_AUTH__SERVER_SECRET={secrets.token_urlsafe(48)}")
    typer.echo(f'VAULTAPI_AUTH__JWT_PRIVATE_KEY="{pem}"')


def _set_role(email: str, role: str) -> None:
    from vaultapi.crypto import CryptoError
    from vaultapi.crypto.kdf import normalize_email
    from vaultapi.db.engine import create_sessionmaker
    from vaultapi.db.repositories.admin import AdminRepository

    try:
        identity = normalize_email(email)
    except CryptoError as exc:
        typer.echo(f"invalid e-mail address: {exc}", err=True)
        raise typer.Exit(2) from exc

    async def work(engine: AsyncEngine) -> bool:
        async with create_sessionmaker(engine)() as session:
            changed = await AdminRepository(session).set_role(identity, role)
            await session.commit()
        return changed

    if not asyncio.run(_with_engine(_cli_engine(), work)):
        typer.echo(f"no account with the e-mail {identity}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{identity} is now {'an admin' if role == 'admin' else 'a regular user'}")


@admin_app.command("grant")
def admin_grant(email: Annotated[str, typer.Argument(help="The account's e-mail.")]) -> None:
    """Give an account the admin role (effective on its next request)."""
    _set_role(email, "admin")


@admin_app.command("revoke")
def admin_revoke(email: Annotated[str, typer.Argument(help="The account's e-mail.")]) -> None:
    """Take the admin role away (effective on its next request)."""
    _set_role(email, "user")


if __name__ == "__main__":  # pragma: no cover
    app()
