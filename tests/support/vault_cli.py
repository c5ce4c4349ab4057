"""Driving the `vault` command in tests: typer's CliRunner in-process, one
`$VAULT_CLI_HOME` per test, accounts registered with the minimum KDF (fast),
against a real server process on a PostgreSQL database of its own.

The CLI tests register an account per test and log in often from one
address: their server gets its own database, so the per-address abuse
counters they run up (kept in the database) never reach other modules'
servers, and raised per-address limits so they do not hit them themselves.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from typer.testing import CliRunner

from tests.support import databases
from tests.support.servers import RunningServer, running_server
from vaultapi import client
from vaultapi.client.cli import app
from vaultapi.config import DatabaseSettings
from vaultapi.crypto.kdf import MINIMUM_KDF
from vaultapi.db import migrate
from vaultapi.db.engine import create_engine

PASSWORD = "correct horse battery staple, but longer"

GENEROUS_LIMITS = {
    "VAULTAPI_ABUSE__IP_REGISTRATIONS_PER_WINDOW": "1000",
    "VAULTAPI_ABUSE__IP_HANDSHAKES_PER_WINDOW": "1000",
    "VAULTAPI_ABUSE__IP_FAILURES_PER_WINDOW": "1000",
}


@contextmanager
def cli_server(workdir: Path) -> Iterator[RunningServer]:
    """A `vaultapi serve` process on a fresh, migrated PostgreSQL database."""
    name = databases.new_database_name("vaultapi_cli")
    url = databases.with_database(databases.admin_url(), name)

    async def create() -> None:
        admin = databases.admin_engine()
        try:
            await databases.create_database(admin, name)
        finally:
            await admin.dispose()
        engine = create_engine(url, DatabaseSettings())
        try:
            await migrate.upgrade(engine)
        finally:
            await engine.dispose()

    async def drop() -> None:
        admin = databases.admin_engine()
        try:
            await databases.drop_database(admin, name)
        finally:
            await admin.dispose()

    asyncio.run(create())
    try:
        with running_server(
            workdir, env={"VAULTAPI_DATABASE_URL": url, **GENEROUS_LIMITS}
        ) as running:
            yield running
    finally:
        asyncio.run(drop())


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


@dataclass
class CliUser:
    """One account, logged in with the CLI in its own home directory."""

    server: RunningServer
    home: Path
    email: str
    password: str = PASSWORD

    def vault(
        self, *args: str, input: str | None = None, env: dict[str, str] | None = None
    ) -> Result:
        return invoke(self.home, *args, input=input, env=env)

    def unlocked(self, *args: str, more: str = "", env: dict[str, str] | None = None) -> Result:
        """A vault command given the master password (first line of stdin),
        then `more` (further lines: item passwords, codes, confirmations)."""
        return self.vault(*args, input=f"{self.password}\n{more}", env=env)

    def ok(self, *args: str, more: str = "") -> Result:
        result = self.unlocked(*args, more=more)
        assert result.code == 0, (args, result)
        return result


def invoke(
    home: Path, *args: str, input: str | None = None, env: dict[str, str] | None = None
) -> Result:
    runner = CliRunner()
    result = runner.invoke(
        app, list(args), input=input, env={"VAULT_CLI_HOME": str(home), **(env or {})}
    )
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Result(result.exit_code, result.stdout, result.stderr)


def register(server: RunningServer, email: str, password: str = PASSWORD) -> None:
    async def work() -> None:
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            await client.register(http, email, password, kdf=MINIMUM_KDF)

    asyncio.run(work())


def new_user(server: RunningServer, home: Path) -> CliUser:
    """A fresh account, logged in from `home`."""
    email = f"cli-{uuid.uuid4().hex[:10]}@example.com"
    register(server, email)
    user = CliUser(server, home, email)
    result = invoke(
        home,
        "login",
        "--server",
        server.base_url,
        "--email",
        email,
        "--password-stdin",
        input=PASSWORD + "\n",
    )
    assert result.code == 0, result
    return user
