"""The Dockerfile and docker-compose.yml, checked without a Docker engine:
what can be read is read, and the image's own commands (migrate, serve,
HEALTHCHECK) run on this machine against PostgreSQL."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer.main
import yaml

from tests.support import databases
from tests.support.cluster import production_environment
from tests.support.dockerfile import Stage, parse
from tests.support.servers import clean_environment, free_port
from vaultapi.cli import app as cli_app
from vaultapi.config import ServerSettings
from vaultapi.db.migrate import head_revisions
from vaultapi.envfile import render_env_example, variables
from vaultapi.main import create_app
from vaultapi.probe import READY_PATH, probe_url

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = {variable.name for variable in variables()}


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse(ROOT / "Dockerfile")


@pytest.fixture(scope="module")
def runtime(stages: list[Stage]) -> Stage:
    return stages[-1]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return document


def is_vaultapi_command(argv: list[str]) -> bool:
    """`vaultapi <sub> [<sub>…]` names a real command of the `vaultapi` CLI."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    if not argv or scripts.get(argv[0]) != "vaultapi.cli:app":
        return False
    command: Any = typer.main.get_command(cli_app)  # a click-like group (typer vendors click)
    for word in argv[1:]:
        if word.startswith("-"):
            break
        if word not in getattr(command, "commands", {}):
            return False
        command = command.commands[word]
    return not hasattr(command, "commands")


# -- Dockerfile -----------------------------------------------------------------


def test_two_stages_on_slim_python_311(stages: list[Stage]) -> None:
    assert [stage.name for stage in stages] == ["build", "runtime"]
    for stage in stages:
        assert stage.base.startswith("python:3.11-slim"), stage.base


def test_dependencies_come_from_the_constraints_as_wheels(stages: list[Stage]) -> None:
    build = stages[0]
    run = " ".join(i.arguments for i in build.all("RUN"))
    assert "--constraint constraints.txt" in run
    assert "--only-binary=:all:" in run  # nothing is compiled, so no compiler is needed
    assert build.env()["PIP_NO_CACHE_DIR"] == "1"
    assert any("constraints.txt" in i.arguments.split() for i in build.all("COPY"))


def test_the_runtime_stage_has_no_build_tools_and_copies_only_the_environment(
    runtime: Stage,
) -> None:
    text = " ".join(i.arguments for i in runtime.instructions).lower()
    for tool in ("apt-get install", "gcc", "build-essential", "pip install", "pip wheel"):
        assert tool not in text
    copies = runtime.all("COPY")
    assert [c.arguments for c in copies] == ["--from=build /opt/vaultapi /opt/vaultapi"]


def test_runs_as_a_non_root_user(runtime: Stage) -> None:
    user = runtime.last("USER").arguments.split(":")[0]
    assert user not in ("root", "0")
    assert user.isdigit()  # numeric: Kubernetes' runAsNonRoot can verify it


def test_cmd_serves_and_healthcheck_probes_readiness(runtime: Stage) -> None:
    assert runtime.last("CMD").exec_form() == ["vaultapi", "serve"]
    assert is_vaultapi_command(runtime.last("CMD").exec_form())
    health = runtime.last("HEALTHCHECK")
    assert health.exec_form() == ["python", "-m", "vaultapi.probe"]
    assert "get" in create_app().openapi()["paths"][READY_PATH]
    env = runtime.env()
    assert probe_url(env) == f"http://127.0.0.1:{env['VAULTAPI_SERVER__PORT']}{READY_PATH}"
    assert runtime.last("EXPOSE").arguments == env["VAULTAPI_SERVER__PORT"]
    assert runtime.last("STOPSIGNAL").arguments == "SIGTERM"


def test_image_environment_names_real_settings(runtime: Stage) -> None:
    env = runtime.env()
    names = {name for name in env if name.startswith("VAULTAPI_")}
    assert names <= SETTINGS
    assert env["VAULTAPI_ENV"] == "production"
    assert env["VAULTAPI_SERVER__HOST"] == "0.0.0.0"  # noqa: S104 - in a container


def test_dockerignore_admits_only_what_the_build_copies() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    rules = [line for line in lines if line and not line.startswith("#")]
    assert rules[0] == "*"
    assert {"!pyproject.toml", "!constraints.txt", "!README.md", "!src/"} <= set(rules)


# -- docker-compose.yml ------------------------------------------------------------


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {str(k): str(v) for k, v in env.items()}


def test_compose_variables_are_real_settings(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for variable in _environment(service):
            if variable.startswith("VAULTAPI_"):
                assert variable in SETTINGS, f"{name}: {variable}"


def test_postgresql_has_a_volume_and_a_pg_isready_healthcheck(compose: dict[str, Any]) -> None:
    db = compose["services"]["db"]
    volume = db["volumes"][0].split(":")[0]
    assert volume in compose["volumes"]  # named, survives `docker compose down`
    assert db["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    assert (
        _environment(db)["POSTGRES_DB"]
        in _environment(compose["services"]["api"])["VAULTAPI_DATABASE_URL"]
    )


def test_migrate_runs_once_after_the_database_is_healthy(compose: dict[str, Any]) -> None:
    migrate = compose["services"]["migrate"]
    assert migrate["command"] == ["vaultapi", "db", "upgrade"]
    assert is_vaultapi_command(migrate["command"])
    assert migrate["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert migrate["restart"] == "no"


def test_api_starts_after_a_healthy_database_and_a_successful_migration(
    compose: dict[str, Any],
) -> None:
    api, migrate = compose["services"]["api"], compose["services"]["migrate"]
    assert api["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    assert api["image"] == migrate["image"]
    assert api["env_file"] == migrate["env_file"] == ".env"  # secrets from the env file
    assert "command" not in api  # the image's CMD
    drain = ServerSettings().shutdown_drain_seconds + ServerSettings().shutdown_timeout_seconds
    assert float(api["stop_grace_period"].rstrip("s")) > drain


def test_the_tls_front_is_an_optional_profile_trusted_by_address(
    compose: dict[str, Any],
) -> None:
    tls = compose["services"]["tls"]
    assert tls["profiles"] == ["tls"]
    assert tls["depends_on"] == {"api": {"condition": "service_healthy"}}
    address = tls["networks"]["backend"]["ipv4_address"]
    assert f'["{address}/32"]' in (ROOT / ".env.example").read_text()
    assert (ROOT / "deploy" / "Caddyfile").exists()
    for name, service in compose["services"].items():
        assert ("profiles" in service) == (name == "tls")


# -- .env.example ---------------------------------------------------------------------


def test_env_example_is_generated_from_the_settings() -> None:
    assert (ROOT / ".env.example").read_text() == render_env_example(), (
        "stale .env.example: run `make env-example`"
    )


def test_env_example_names_every_setting_and_nothing_else() -> None:
    named = set()
    for line in (ROOT / ".env.example").read_text().splitlines():
        name = line.lstrip("#").partition("=")[0]
        if name.startswith("VAULTAPI_"):
            named.add(name)
    assert named == SETTINGS


# -- the image's commands, on this machine ---------------------------------------------


@pytest.mark.slow
async def test_the_images_commands_migrate_serve_and_report_healthy(
    workdir: Path, runtime: Stage, compose: dict[str, Any]
) -> None:
    """What the container does, minus the container: compose's `migrate`
    command on an empty database, then the image's CMD, then its HEALTHCHECK
    — with the image's environment (its PATH mapped onto this virtualenv; the
    address moved to a free loopback port, as `docker run -e` would)."""
    admin = databases.admin_engine()
    name = databases.new_database_name("vaultapi_image")
    await databases.create_database(admin, name)
    url = databases.with_database(databases.admin_url(), name)
    port = free_port()
    image_env = runtime.env()
    venv_bin = str(Path(sys.executable).parent)
    env = clean_environment(
        {
            **{k: v for k, v in image_env.items() if k != "PATH"},
            **production_environment(url),
            "PATH": image_env["PATH"]
            .replace("/opt/vaultapi/bin", venv_bin)
            .replace("$PATH", clean_environment()["PATH"]),
            "VAULTAPI_DATA_DIR": str(workdir / "data"),
            "VAULTAPI_SERVER__HOST": "127.0.0.1",
            "VAULTAPI_SERVER__PORT": str(port),
            "VAULTAPI_SERVER__SHUTDOWN_DRAIN_SECONDS": "0",
        }
    )

    try:
        ready, log = await asyncio.to_thread(
            _run_image_commands, workdir, env, port, runtime, compose
        )
    finally:
        await databases.drop_database(admin, name)
        await admin.dispose()
    assert ready.status_code == 200
    assert ready.json()["schema_revision"] == ",".join(sorted(head_revisions()))
    assert "PRODUCTION OVER PLAIN HTTP" in log  # no TLS, no proxy here


def _run_image_commands(
    workdir: Path, env: dict[str, str], port: int, runtime: Stage, compose: dict[str, Any]
) -> tuple[httpx.Response, str]:
    """Migrate, check the HEALTHCHECK fails, serve, wait for the HEALTHCHECK
    to pass; the readiness answer and the server's log."""

    def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv, env=env, cwd=workdir, capture_output=True, text=True, timeout=120, check=False
        )

    healthcheck = runtime.last("HEALTHCHECK").exec_form()
    migrated = run(compose["services"]["migrate"]["command"])
    assert migrated.returncode == 0, migrated.stderr
    assert migrated.stdout.strip() == f"database at {','.join(sorted(head_revisions()))}"
    assert run(healthcheck).returncode == 1  # nothing listening yet

    log_path = workdir / "serve.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            runtime.last("CMD").exec_form(),
            env=env,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while (healthy := run(healthcheck)).returncode != 0:
            assert server.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, healthy.stderr + log_path.read_text()
            time.sleep(0.2)
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz")
    finally:
        server.terminate()
        server.wait(timeout=30)
    return ready, log_path.read_text()
