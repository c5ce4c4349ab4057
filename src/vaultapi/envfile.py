"""Every setting as an environment variable, and the `.env.example` made from them.

`.env.example` is generated (`vaultapi env-example`, `make env-example`) from
`Settings` itself — names, defaults and the attribute docstrings — and a test
fails when the committed file differs, so it cannot drift from the code.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from vaultapi.config import Group, Settings

PREFIX = "VAULTAPI_"


@dataclass(frozen=True)
class Variable:
    name: str
    field: FieldInfo
    group: str

    @property
    def default(self) -> str:
        return _render(self.field.default)


def _render(value: Any) -> str:
    if value is None or isinstance(value, SecretStr):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, list):
        return json.dumps([str(item) for item in value])
    if isinstance(value, Path):
        return str(value)
    return str(value)


def _walk(model: type[BaseModel], prefix: str, group: str) -> list[Variable]:
    found: list[Variable] = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, Group):
            found += _walk(annotation, f"{prefix}{name.upper()}__", name)
        else:
            found.append(Variable(f"{prefix}{name.upper()}", field, group))
    return found


def variables() -> list[Variable]:
    """Every setting, in the order `Settings` declares them."""
    return _walk(Settings, PREFIX, "")


# What a docker compose deployment sets in `.env` (the rest keep their defaults).
_SET_IN_EXAMPLE = {
    "VAULTAPI_ENV": "production",
    "VAULTAPI_AUTH__SERVER_SECRET": "",
    "VAULTAPI_AUTH__JWT_PRIVATE_KEY": "",
}
_NOTES = {
    "VAULTAPI_DATABASE_URL": "docker-compose.yml builds it from POSTGRES_PASSWORD (below).",
    "VAULTAPI_AUTH__SERVER_SECRET": "Required: `vaultapi keygen` prints it and the next one.",
    "VAULTAPI_SERVER__HOST": "The image sets 0.0.0.0.",
    "VAULTAPI_HTTP__TRUSTED_PROXIES": 'With the `tls` profile: ["172.30.0.10/32"] (the caddy '
    "container's fixed address in docker-compose.yml).",
}

_HEADER = """\
# vaultapi settings for `docker compose` (copy to .env, fill in, keep it secret).
# Generated from src/vaultapi/config.py by `make env-example`; a test fails when
# this file differs, so edit the settings' docstrings, not this file.
# Every setting is listed; commented lines show the default.
"""

_COMPOSE = """\
# -- docker compose (not vaultapi settings) -------------------------------------
# PostgreSQL password: URL-safe characters only, it becomes part of the
# database URL (`python -c 'import secrets; print(secrets.token_urlsafe(32))'`).
POSTGRES_PASSWORD=
# Public host name for the optional TLS front (`docker compose --profile tls up`).
#TLS_DOMAIN=vault.example.com
"""


def _comment(text: str) -> list[str]:
    paragraph = " ".join(text.split())
    return [f"# {line}" for line in textwrap.wrap(paragraph, 78)]


def render_env_example() -> str:
    lines = [_HEADER]
    group = None
    for variable in variables():
        if variable.group != group:
            group = variable.group
            title = f" {group} " if group else " general "
            lines.append(f"\n# --{title}{'-' * (76 - len(title))}")
        if variable.field.description:
            lines += _comment(variable.field.description)
        if variable.name in _NOTES:
            lines += _comment(_NOTES[variable.name])
        if variable.name in _SET_IN_EXAMPLE:
            lines.append(f"{variable.name}={_SET_IN_EXAMPLE[variable.name]}")
        else:
            lines.append(f"#{variable.name}={variable.default}")
    lines.append("\n" + _COMPOSE)
    return "\n".join(lines)
