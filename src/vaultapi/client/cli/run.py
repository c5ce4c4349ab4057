"""`vault run --env NAME=item.field ... -- COMMAND [ARGS]`: a command with
secrets in its environment.

The secrets are decrypted in this process and handed to the child through
`execve`'s environment: no file, no command-line argument (other users can
read those in the process list). The child inherits the rest of this
environment; its exit code becomes ours. The item is everything before the
last `.` (so names with dots work: `--env TOKEN=api.example.com.password`).
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from typing import Annotated

import typer

from vaultapi.client.cli.common import UsageError, err, master_password, run, usage_error
from vaultapi.client.cli.fields import get_field, item_label, resolve_item
from vaultapi.client.cli.unlocked import unlocked

_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
COMMAND_NOT_FOUND = 127
COMMAND_NOT_EXECUTABLE = 126


@dataclass(frozen=True)
class Binding:
    variable: str
    item: str
    field: str


def parse_binding(text: str) -> Binding:
    variable, sep, reference = text.partition("=")
    item, dot, field = reference.rpartition(".")
    if not sep or not dot or not item or not field:
        raise usage_error(f"--env wants NAME=item.field, not {text!r}")
    if not _VARIABLE.match(variable):
        raise usage_error(f"--env {variable!r} is not an environment variable name")
    return Binding(variable, item, field)


def run_command(
    command: Annotated[list[str], typer.Argument(help="The command and its arguments, after --")],
    env: Annotated[
        list[str] | None,
        typer.Option("--env", "-e", help="NAME=item.field (repeatable)"),
    ] = None,
    offline: Annotated[bool, typer.Option("--offline", help="Read the local copy only")] = False,
) -> None:
    """Run a command with secrets from the vault in its environment."""
    bindings = [parse_binding(text) for text in env or []]
    if not bindings:
        raise usage_error("nothing to inject: give at least one --env NAME=item.field")
    password = master_password()

    async def resolve() -> dict[str, str]:
        values: dict[str, str] = {}
        async with unlocked(password, offline=offline) as session:
            items = session.items()
            for binding in bindings:
                item = resolve_item(items, binding.item)
                value = get_field(item, binding.field)
                if value is None:
                    raise UsageError(f"item {item_label(item)} has an empty {binding.field}")
                values[binding.variable] = value
        return values

    secrets_env = run(resolve)
    try:
        child = subprocess.run(command, env={**os.environ, **secrets_env}, check=False)  # noqa: S603
    except FileNotFoundError:
        err.print(f"[red]error:[/red] command not found: {command[0]}")
        raise typer.Exit(COMMAND_NOT_FOUND) from None
    except PermissionError:
        err.print(f"[red]error:[/red] not executable: {command[0]}")
        raise typer.Exit(COMMAND_NOT_EXECUTABLE) from None
    raise typer.Exit(child.returncode if child.returncode >= 0 else 128 - child.returncode)
