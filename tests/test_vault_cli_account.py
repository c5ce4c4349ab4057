"""`vault 2fa`, `vault sessions`, and the password prompts in a real terminal
(tmux), against a real server process (PostgreSQL)."""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.mfa import code
from tests.support.servers import RunningServer
from tests.support.vault_cli import PASSWORD, CliUser, cli_server, invoke, new_user, register
from vaultapi import client

pytestmark = pytest.mark.slow

VAULT = [sys.executable, "-c", "from vaultapi.client.cli import app; app()"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with cli_server(tmp_path_factory.mktemp("vault-cli-account")) as running:
        yield running


@pytest.fixture
def user(server: RunningServer, tmp_path: Path) -> CliUser:
    return new_user(server, tmp_path / "home")


def enable_totp_through_a_pipe(user: CliUser) -> str:
    """`vault 2fa enable-totp` as a real process: the code typed in depends
    on the secret it prints. Returns the secret."""
    process = subprocess.Popen(
        [*VAULT, "2fa", "enable-totp"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "VAULT_CLI_HOME": str(user.home), "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        process.stdin.write(PASSWORD + "\n")
        process.stdin.flush()
        secret = ""
        while not secret:
            line = process.stdout.readline()
            assert line, f"no secret printed; stderr: {process.communicate(timeout=30)[1]}"
            if line.strip().startswith("secret:"):
                secret = line.split(":", 1)[1].strip()
        rest, errors = process.communicate(code(secret) + "\n", timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, errors
    assert "TOTP is on" in rest
    assert "Recovery codes" in rest
    return secret


def test_two_factor_lifecycle(user: CliUser, tmp_path: Path) -> None:
    status = user.vault("2fa")
    assert status.code == 0
    assert "authenticator app (TOTP): off" in status.out

    wrong = user.vault("2fa", "enable-totp", input="wrong password\n")
    assert (wrong.code, "invalid_credentials" in wrong.err) == (1, True)

    secret = enable_totp_through_a_pipe(user)
    assert "authenticator app (TOTP): on" in user.vault("2fa", "status").out
    assert "recovery codes left: 10" in user.vault("2fa", "status").out

    printed = user.ok("2fa", "recovery-codes").out
    fresh = [line.strip() for line in printed.splitlines() if line.startswith("  ")]
    assert len(fresh) == 10, printed

    # a new login of this account now needs the second factor: a recovery code works
    elsewhere = tmp_path / "elsewhere"
    login_args = ("login", "-s", user.server.base_url, "-e", user.email, "--password-stdin")
    logged = invoke(elsewhere, *login_args, input=f"{PASSWORD}\n{fresh[0]}\n")
    assert logged.code == 0, logged
    assert "recovery codes left: 9" in invoke(elsewhere, "2fa").out

    assert user.unlocked("2fa", "disable", more="n\n").code == 1
    user.ok("2fa", "disable", "--yes")
    assert "authenticator app (TOTP): off" in user.vault("2fa").out
    assert secret  # (enrolment was real: the server accepted a code made from it)


def test_sessions(user: CliUser, server: RunningServer) -> None:
    listed = user.vault("sessions", "ls")
    assert listed.code == 0
    lines = listed.out.splitlines()
    assert lines[0].split("\t")[:2] == ["id", "device"]
    assert len(lines) == 2
    assert lines[1].startswith("* ")
    assert "vault CLI" in lines[1]

    async def other_login() -> client.Login:
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            return await client.login(http, user.email, PASSWORD, device_name="laptop")

    laptop = asyncio.run(other_login())
    asyncio.run(other_login())
    lines = user.vault("sessions", "ls").out.splitlines()[1:]
    assert len(lines) == 3
    assert sum(line.startswith("* ") for line in lines) == 1

    assert user.vault("sessions", "revoke", str(laptop.session_id)).code == 0
    refused = httpx.post(
        f"{server.base_url}/v1/auth/refresh", json={"refresh_token": laptop.refresh_token}
    )
    assert refused.status_code == 401
    assert user.vault("sessions", "revoke", str(uuid.uuid4())).code == 1
    assert user.vault("sessions", "revoke", "not-a-uuid").code == 2

    revoked = user.vault("sessions", "revoke-others")
    assert (revoked.code, revoked.out.strip()) == (0, "Ended 1 other session(s).")
    assert len(user.vault("sessions", "ls").out.splitlines()) == 2

    own = user.vault("sessions", "ls").out.splitlines()[1].split("\t")[0][2:]
    assert user.vault("sessions", "revoke", own).code == 0
    assert not (user.home / "session.json").exists(), "ending this session forgets it"
    assert user.vault("sessions", "ls").code == 1


# -- a real terminal -----------------------------------------------------------------


class Tmux:
    """One tmux server of our own (its own socket), one pane running `command`."""

    def __init__(self, socket_dir: Path, command: str) -> None:
        self.base = ["tmux", "-S", str(socket_dir / "tmux.sock")]
        subprocess.run(
            [*self.base, "new-session", "-d", "-x", "200", "-y", "50", command],
            check=True,
            timeout=30,
        )

    def screen(self) -> str:
        done = subprocess.run(
            [*self.base, "capture-pane", "-p", "-S", "-100"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        return done.stdout

    def type(self, text: str) -> None:
        subprocess.run([*self.base, "send-keys", "-l", text], check=True, timeout=30)
        subprocess.run([*self.base, "send-keys", "Enter"], check=True, timeout=30)

    def wait_for(self, wanted: Callable[[str], bool], what: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if wanted(screen):
                return screen
            if time.monotonic() > deadline:
                pytest.fail(f"tmux: no {what} within {timeout}s; screen:\n{screen}")
            time.sleep(0.2)

    def close(self) -> None:
        subprocess.run([*self.base, "kill-server"], check=False, timeout=30)


@pytest.fixture
def tmux_available() -> None:
    if shutil.which("tmux") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("tmux is required in CI (.ci/run installs it)")
        pytest.skip("tmux is not installed (apt-get install tmux): the terminal test needs it")


@pytest.mark.usefixtures("tmux_available")
def test_password_prompts_in_a_real_terminal(server: RunningServer, tmp_path: Path) -> None:
    email = f"tty-{uuid.uuid4().hex[:8]}@example.com"
    register(server, email)
    home = tmp_path / "home"
    secret = "TerminalSecret-4711"
    vault = " ".join(shlex.quote(part) for part in VAULT)
    script = (
        f"export VAULT_CLI_HOME={shlex.quote(str(home))}; "
        f"{vault} login --server {server.base_url} --email {email} && "
        f"{vault} add Terminal && "
        f"{vault} get Terminal --field password; "
        "echo DONE-$?; sleep 600"
    )
    tmux = Tmux(tmp_path, f"sh -c {shlex.quote(script)}")
    try:
        tmux.wait_for(lambda s: "Master password" in s, "login prompt")
        tmux.type(PASSWORD)
        tmux.wait_for(lambda s: s.count("Master password") == 2, "unlock prompt for add")
        tmux.type(PASSWORD)
        tmux.wait_for(lambda s: "Item password" in s, "item password prompt")
        tmux.type(secret)
        tmux.wait_for(lambda s: "Repeat for confirmation" in s, "confirmation prompt")
        tmux.type(secret)
        tmux.wait_for(lambda s: s.count("Master password") == 3, "unlock prompt for get")
        tmux.type(PASSWORD)
        screen = tmux.wait_for(lambda s: "DONE-" in s, "end of the script")
    finally:
        tmux.close()
    assert "DONE-0" in screen, screen
    assert "Logged in" in screen
    assert "Added 'Terminal'" in screen
    assert PASSWORD not in screen, "the master password was echoed"
    assert screen.count(secret) == 1, "the item password was echoed (or not printed by get)"
