"""The `vaultapi` command: serve, migrate, export the contract, make keys."""

from __future__ import annotations

import asyncio
import json
import logging
import os
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
    host: Annotated[
        str | None, typer.Option(help="Address to bind [default: VAULTAPI_SERVER__HOST].")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(help="Port to bind [default: VAULTAPI_SERVER__PORT].", min=0, max=65535),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="Worker processes [default: VAULTAPI_SERVER__WORKERS].", min=1, max=256),
    ] = None,
    ssl_certfile: Annotated[
        Path | None, typer.Option(help="TLS certificate chain (PEM): serve HTTPS.", exists=True)
    ] = None,
    ssl_keyfile: Annotated[
        Path | None, typer.Option(help="TLS private key (PEM).", exists=True)
    ] = None,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated proxy addresses or networks whose X-Forwarded-For and "
            "X-Forwarded-Proto to trust (overrides VAULTAPI_HTTP__TRUSTED_PROXIES)."
        ),
    ] = None,
) -> None:
    """Run the API server (uvicorn). Options override the VAULTAPI_SERVER__* settings."""
    from vaultapi.db import migrate
    from vaultapi.logs import configure_logging
    from vaultapi.main import check_startable
    from vaultapi.server_keys import load_server_keys
    from vaultapi.shutdown import run_server

    if forwarded_allow_ips is not None:
        _trust_proxies(forwarded_allow_ips)
    if (ssl_certfile is None) != (ssl_keyfile is None):
        err.print("[red]--ssl-certfile and --ssl-keyfile go together[/red]")
        raise typer.Exit(2)
    settings = _settings()
    server = settings.server.model_copy(
        update={
            name: value
            for name, value in {
                "host": host,
                "port": port,
                "workers": workers,
                "ssl_certfile": ssl_certfile,
                "ssl_keyfile": ssl_keyfile,
            }.items()
            if value is not None
        }
    )
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
    _warn_if_plain_http_in_production(settings, tls=server.ssl_certfile is not None)
    run_server(server)


def _trust_proxies(option: str) -> None:
    """`--forwarded-allow-ips` is another way to set `http.trusted_proxies`:
    through the environment, so that every worker process reads the same."""
    addresses = [part.strip() for part in option.split(",") if part.strip()]
    if "*" in addresses:
        err.print(
            "[red]--forwarded-allow-ips '*' would believe any client's X-Forwarded-For "
            "(spoofed addresses defeat per-IP limits): list your proxies' addresses[/red]"
        )
        raise typer.Exit(2)
    os.environ["VAULTAPI_HTTP__TRUSTED_PROXIES"] = json.dumps(addresses)


def _warn_if_plain_http_in_production(settings: Settings, *, tls: bool) -> None:
    if not settings.is_production or tls or settings.http.trusted_proxies:
        return
    logging.getLogger("vaultapi.serve").warning(
        "PRODUCTION OVER PLAIN HTTP: no TLS certificate (VAULTAPI_SERVER__SSL_CERTFILE) and "
        "no trusted proxy (VAULTAPI_HTTP__TRUSTED_PROXIES) is configured, so tokens and "
        "vault data cross the network unencrypted unless something in front terminates "
        "TLS — and if something does, configure it as a trusted proxy so that client "
        "addresses and HSTS are right."
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


@app.command("env-example")
def env_example(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to FILE instead of stdout.")
    ] = None,
) -> None:
    """Print the `.env.example` that names every setting (generated from the code)."""
    from vaultapi.envfile import render_env_example

    text = render_env_example()
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text)
        err.print(f"wrote {output}")


@app.command()
def keygen(
    rotate: Annotated[
        bool,
        typer.Option(
            "--rotate",
            help="Rotate the configured JWT signing key: print a new one, and the current "
            "one's public half (or HS256 secret) as still accepted.",
        ),
    ] = False,
) -> None:
    """Print fresh production secrets as environment variable assignments."""
    import secrets

    from vaultapi.server_keys import generate_ed25519_pem

    if rotate:
        _rotate_jwt_key()
        return
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


def _rotate_jwt_key() -> None:
    """New signing key; the current one joins the accepted keys, so tokens it
    signed keep working until they expire (`docs/deployment.md`)."""
    import secrets

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from vaultapi.crypto.tokens import TokenKeys
    from vaultapi.server_keys import (
        ed25519_private_from_pem,
        explicit_secret_problems,
        private_pem,
        public_pem,
    )

    settings = _settings()
    auth = settings.auth
    current = auth.jwt_private_key if auth.jwt_algorithm == "EdDSA" else auth.jwt_secret
    problems = explicit_secret_problems(auth, require_all=False)
    if current is None:
        problems.append(
            f"the current {auth.jwt_algorithm} key is not set in the environment "
            "(VAULTAPI_AUTH__JWT_PRIVATE_KEY or VAULTAPI_AUTH__JWT_SECRET): nothing to rotate"
        )
    if problems:
        raise _fail(ConfigurationError(problems), "cannot rotate the JWT key")
    assert current is not None  # noqa: S101 - a problem above otherwise
    ttl = auth.access_token_ttl_seconds
    if auth.jwt_algorithm == "EdDSA":
        old_key = ed25519_private_from_pem(current.get_secret_value())
        assert old_key is not None  # noqa: S101 - checked by explicit_secret_problems
        new_key = Ed25519PrivateKey.generate()
        accepted = [public_pem(old_key.public_key())]
        accepted += [pem for pem in auth.jwt_accepted_public_keys if pem not in accepted]
        old_kid = TokenKeys("EdDSA", ed25519=old_key).kid
        new_kid = TokenKeys("EdDSA", ed25519=new_key).kid
        escaped = private_pem(new_key).strip().replace("\n", "\\n")
        typer.echo(f'VAULTAPI_AUTH__JWT_PRIVATE_KEY="{escaped}"')
        typer.echo(f"VAULTAPI_AUTH__JWT_ACCEPTED_PUBLIC_KEYS='{json.dumps(accepted)}'")
        ahead = [public_pem(new_key.public_key()), *auth.jwt_accepted_public_keys]
        err.print(
            "Several machines: first roll out, with the current signing key unchanged,\n"
            f"VAULTAPI_AUTH__JWT_ACCEPTED_PUBLIC_KEYS='{json.dumps(ahead)}'",
            highlight=False,
            markup=False,
        )
    else:
        new_secret = secrets.token_urlsafe(48)
        old_secrets = [current.get_secret_value()]
        old_secrets += [
            s.get_secret_value()
            for s in auth.jwt_accepted_secrets
            if s.get_secret_value() not in old_secrets
        ]
        old_kid = TokenKeys("HS256", hmac_secret=current.get_secret_value().encode()).kid
        new_kid = TokenKeys("HS256", hmac_secret=new_secret.encode()).kid
        typer.echo(f"VAULTAPI_AUTH__JWT_SECRET={new_secret}")
        typer.echo(f"VAULTAPI_AUTH__JWT_ACCEPTED_SECRETS='{json.dumps(old_secrets)}'")
        ahead = [new_secret, *(s.get_secret_value() for s in auth.jwt_accepted_secrets)]
        err.print(
            "Several machines: first roll out, with the current secret unchanged,\n"
            f"VAULTAPI_AUTH__JWT_ACCEPTED_SECRETS='{json.dumps(ahead)}'",
            highlight=False,
            markup=False,
        )
    err.print(
        f"New signing key {new_kid}; {old_kid} stays accepted. Roll these settings out "
        f"everywhere, then remove the accepted key(s) after {ttl} s "
        "(VAULTAPI_AUTH__ACCESS_TOKEN_TTL_SECONDS), when the last token it signed has expired.",
        highlight=False,
    )


if __name__ == "__main__":  # pragma: no cover
    app()
