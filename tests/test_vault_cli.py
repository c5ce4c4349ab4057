"""The `vault` command against a real server process (PostgreSQL): login, the
stored session file, shares end to end, and the one-liner for scripts."""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from tests.support.mfa import code, enable_totp
from tests.support.servers import RunningServer, running_server
from vaultapi import client
from vaultapi.client import open_share
from vaultapi.client.cli import app, parse_ttl
from vaultapi.client.cli.session import prompted_second_factor
from vaultapi.crypto.kdf import MINIMUM_KDF

pytestmark = pytest.mark.slow

EMAIL = "carol@example.com"
PASSWORD = "a long and hard master password"


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, postgresql_url: str
) -> Iterator[RunningServer]:
    workdir = tmp_path_factory.mktemp("vault-cli")
    with running_server(workdir, env={"VAULTAPI_DATABASE_URL": postgresql_url}) as running:

        async def register() -> None:
            async with httpx.AsyncClient(base_url=running.base_url) as http:
                await client.register(http, EMAIL, PASSWORD, kdf=MINIMUM_KDF)

        asyncio.run(register())
        yield running


@pytest.fixture
def cli_home(tmp_path: Path) -> Path:
    return tmp_path / "cli-home"


def vault(home: Path, *args: str, input: str | None = None) -> tuple[int, str, str]:
    runner = CliRunner()
    result = runner.invoke(app, list(args), input=input, env={"VAULT_CLI_HOME": str(home)})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def stored(home: Path) -> dict[str, str]:
    data: dict[str, str] = json.loads((home / "session.json").read_text())
    return data


def login(home: Path, server: RunningServer) -> None:
    code, _, errors = vault(
        home,
        "login",
        "--server",
        server.base_url,
        "--email",
        EMAIL,
        "--password-stdin",
        input=PASSWORD + "\n",
    )
    assert code == 0, errors


def test_login_stores_only_server_email_and_refresh_token(
    server: RunningServer, cli_home: Path
) -> None:
    code, out, _ = vault(cli_home, "status")
    assert (code, out.strip()) == (1, "Not logged in.")
    wrong = vault(
        cli_home, "login", "-s", server.base_url, "-e", EMAIL, "--password-stdin", input="nope\n"
    )
    assert wrong[0] == 1
    assert "invalid_credentials" in wrong[2]
    assert not (cli_home / "session.json").exists()

    login(cli_home, server)
    path = cli_home / "session.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(cli_home.stat().st_mode) == 0o700
    session = stored(cli_home)
    assert sorted(session) == ["email", "refresh_token", "server"]
    assert (session["server"], session["email"]) == (server.base_url, EMAIL)
    assert session["refresh_token"].startswith("vrt_")
    assert PASSWORD not in path.read_text()

    code, out, _ = vault(cli_home, "status")
    assert (code, out.strip()) == (0, f"Logged in to {server.base_url} as {EMAIL}")
    assert stored(cli_home)["refresh_token"] != session["refresh_token"]  # rotated and kept

    assert vault(cli_home, "logout")[0] == 0
    assert not path.exists()
    assert vault(cli_home, "status")[0] == 1


def test_shares_end_to_end(server: RunningServer, cli_home: Path) -> None:
    login(cli_home, server)
    code, out, errors = vault(
        cli_home, "share", "create", "--ttl", "10m", "--views", "2", input="my secret\n"
    )
    assert code == 0, errors
    link, expiry = out.strip().splitlines()
    assert link.startswith(f"{server.base_url}/v1/shares/")
    assert expiry.startswith("expires ")
    assert "2 view(s)" in expiry
    share_id = link.split("/")[-1].split("#")[0]

    code, out, _ = vault(cli_home, "share", "ls")
    assert code == 0
    assert share_id in out
    assert "active" in out

    code, out, _ = vault(cli_home, "share", "open", link)
    assert (code, out) == (0, "my secret\n")
    assert open_share(link) == "my secret"  # the one-liner, second and last view
    code, _, errors = vault(cli_home, "share", "open", link)
    assert code == 1
    assert "410 share_gone" in errors

    code, out, errors = vault(
        cli_home, "share", "create", "--passphrase", input="tulip\nline one\nline two\n"
    )
    assert code == 0, errors
    protected = out.splitlines()[0]
    assert protected.endswith(".p")
    assert "passphrase" in out.splitlines()[1]
    code, _, errors = vault(cli_home, "share", "open", protected, input="tulips\n")
    assert (code, "invalid_access_proof" in errors) == (1, True)
    code, out, _ = vault(cli_home, "share", "open", "-", input=f"{protected}\ntulip\n")
    assert (code, out) == (0, "line one\nline two\n")

    code, out, _ = vault(cli_home, "share", "create", input="to revoke")
    revoke_id = out.splitlines()[0].split("/")[-1].split("#")[0]
    code, out, _ = vault(cli_home, "share", "revoke", revoke_id)
    assert (code, out.strip()) == (0, f"Share {revoke_id} is revoked.")
    code, out, _ = vault(cli_home, "share", "ls")
    assert "revoked" in out
    assert "used_up" in out


def test_usage_errors_are_clear(server: RunningServer, cli_home: Path) -> None:
    assert vault(cli_home, "share", "ls")[0] == 1  # not logged in
    assert vault(cli_home, "share", "open", "https://x/v1/shares/nope#v1.abc")[0] == 2
    login(cli_home, server)
    assert vault(cli_home, "share", "revoke", "not-an-id")[0] == 2
    assert vault(cli_home, "share", "create", input="")[0] == 2
    code, _, errors = vault(cli_home, "share", "create", "--ttl", "soon", input="x")
    assert code == 2
    assert "days (`7d`)" in errors
    code, _, errors = vault(cli_home, "share", "create", "--ttl", "400d", input="x")
    assert (code, "share_out_of_range" in errors) == (1, True)


def test_ttl_parsing() -> None:
    assert parse_ttl("30").total_seconds() == 30 * 60
    assert parse_ttl("2h").total_seconds() == 2 * 3600
    assert parse_ttl("7d").total_seconds() == 7 * 86400


def test_login_asks_for_the_second_factor(server: RunningServer, cli_home: Path) -> None:
    email = "dave@example.com"

    async def enrol() -> str:
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            await client.register(http, email, PASSWORD, kdf=MINIMUM_KDF)
            secret, _ = await enable_totp(http, await client.login(http, email, PASSWORD))
            return secret

    secret = asyncio.run(enrol())
    args = ("login", "--server", server.base_url, "--email", email, "--password-stdin")
    wrong = "000000" if code(secret) != "000000" else "000001"
    status, _, errors = vault(cli_home, *args, input=f"{PASSWORD}\n{wrong}\n{code(secret)}\n")
    assert status == 0, errors
    assert "Logged in" in errors
    assert stored(cli_home)["email"] == email


async def test_a_security_key_only_account_gets_a_clear_message() -> None:
    pending = client.PendingLogin(
        mfa_token="vmt_x", methods=["webauthn"], expires_in=300, attempts_left=3, wrap_key=b""
    )
    asked: list[str] = []

    def ask(label: str) -> str:
        asked.append(label)
        return "123456"

    finish = prompted_second_factor(httpx.AsyncClient(), ask)
    with pytest.raises(
        client.ClientError, match=r"security key .* cannot use: log in from a browser"
    ):
        await finish(pending)
    assert asked == [], "nothing is asked when nothing typed can finish the login"


def test_token_prints_a_working_access_token(server: RunningServer, cli_home: Path) -> None:
    assert vault(cli_home, "token")[0] == 1  # not logged in
    login(cli_home, server)
    code, out, _ = vault(cli_home, "token")
    assert code == 0
    token = out.strip()
    assert token.count(".") == 2
    assert "\n" not in token
    me = httpx.get(f"{server.base_url}/v1/account", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["email"] == EMAIL
