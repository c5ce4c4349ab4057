"""The `vaultapi` command line, run as a real process where start-up matters."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.support.servers import clean_environment, vaultapi_command
from vaultapi.cli import app
from vaultapi.db.migrate import head_revisions
from vaultapi.main import create_app
from vaultapi.openapi import render_openapi

runner = CliRunner()


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        vaultapi_command(*args),
        cwd=cwd,
        env=clean_environment(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_openapi_prints_the_document(workdir: Path) -> None:
    result = run("openapi", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert result.stdout == render_openapi(create_app())
    assert json.loads(result.stdout)["openapi"].startswith("3.")


def test_openapi_writes_a_file(workdir: Path) -> None:
    result = runner.invoke(app, ["openapi", "--output", str(workdir / "out" / "api.json")])
    assert result.exit_code == 0, result.output
    assert (workdir / "out" / "api.json").read_text() == render_openapi(create_app())


def test_db_upgrade_and_current_on_the_embedded_database(workdir: Path) -> None:
    head = ",".join(sorted(head_revisions()))
    before = run("db", "current", cwd=workdir)
    assert before.returncode == 1
    assert "base (behind" in before.stdout

    upgraded = run("db", "upgrade", cwd=workdir)
    assert upgraded.returncode == 0, upgraded.stderr
    assert (workdir / ".vaultapi" / "vaultapi.db").exists()

    after = run("db", "current", cwd=workdir)
    assert after.returncode == 0
    assert after.stdout.strip() == f"{head} (at head)"

    down = run("db", "downgrade", "base", cwd=workdir)
    assert down.returncode == 0
    assert run("db", "current", cwd=workdir).returncode == 1


def test_db_commands_use_the_configured_database(workdir: Path, postgresql_url: str) -> None:
    result = run("db", "current", cwd=workdir, env={"VAULTAPI_DATABASE_URL": postgresql_url})
    assert result.returncode == 0, result.stderr
    assert "(at head)" in result.stdout
    assert not (workdir / ".vaultapi").exists()


def test_production_start_without_secrets_fails_and_says_what_is_missing(workdir: Path) -> None:
    result = run("serve", "--port", "0", cwd=workdir, env={"VAULTAPI_ENV": "production"})
    assert result.returncode == 2
    message = " ".join(result.stderr.split())
    assert "vaultapi cannot start" in message
    for missing in (
        "VAULTAPI_DATABASE_URL",
        "VAULTAPI_AUTH__SERVER_SECRET",
        "VAULTAPI_AUTH__JWT_PRIVATE_KEY",
    ):
        assert missing in message
    assert "Traceback" not in result.stderr
    assert not (workdir / ".vaultapi").exists()  # refused before touching anything


def test_an_unreachable_database_at_start_is_a_clear_error(workdir: Path) -> None:
    env = {
        "VAULTAPI_DATABASE_URL": "postgresql://postgres@127.0.0.1:9/vault",
        "VAULTAPI_DATABASE__CONNECT_TIMEOUT_SECONDS": "1",
    }
    result = run("serve", "--port", "0", cwd=workdir, env=env)
    assert result.returncode == 1
    assert "migrating the database failed" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_settings_fail_with_the_variable_named(workdir: Path) -> None:
    result = run("serve", cwd=workdir, env={"VAULTAPI_HTTP__MAX_BODY_BYTES": "lots"})
    assert result.returncode == 2
    assert "max_body_bytes" in result.stderr
    assert "Traceback" not in result.stderr


def test_keygen_prints_settings_that_production_accepts(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run("keygen", cwd=workdir)
    assert result.returncode == 0
    for line in result.stdout.splitlines():
        name, _, value = line.partition("=")
        monkeypatch.setenv(name, value.strip('"'))
    monkeypatch.setenv("VAULTAPI_ENV", "production")
    monkeypatch.setenv("VAULTAPI_DATABASE_URL", "postgresql://db/vault")
    from vaultapi.config import Settings

    assert Settings().production_problems() == []


def test_serve_refuses_to_trust_every_forwarded_for(workdir: Path) -> None:
    result = run("serve", "--forwarded-allow-ips", "*", cwd=workdir)
    assert result.returncode == 2
    assert "list your proxies" in " ".join(result.stderr.split())
