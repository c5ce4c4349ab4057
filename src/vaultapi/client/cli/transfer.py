"""`vault import FILE` and `vault export FILE`.

Import reads a Bitwarden unencrypted JSON export or a CSV (importers.py),
encrypts every item here and sends them in one all-or-nothing request.

Export writes, by default, the server's encrypted export: every item still
under its own key, with the KDF parameters and wrapped account key needed to
open it with the master password — safe to keep as a backup. `--plaintext`
writes the decrypted items instead, in Bitwarden's unencrypted JSON layout
(so `vault import` and other managers read it back), after a warning: that
file holds every secret in the clear. Either file is created 0600 and never
overwritten unless `--force`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from vaultapi.client.cli.common import (
    UsageError,
    err,
    master_password,
    out,
    progress_bar,
    run,
    usage_error,
)
from vaultapi.client.cli.unlocked import Unlocked, unlocked
from vaultapi.client.importers import (
    ImportFormatError,
    ParsedImport,
    parse_bitwarden_json,
    parse_csv,
)
from vaultapi.client.vault import Item

FORMATS = ("bitwarden", "csv")
_TYPE_NUMBERS = {"login": 1, "note": 2, "card": 3, "identity": 4}


def _parse(path: Path, file_format: str | None) -> ParsedImport:
    chosen = file_format or ("csv" if path.suffix.lower() == ".csv" else "bitwarden")
    if chosen not in FORMATS:
        raise usage_error(f"--format is one of {', '.join(FORMATS)}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise usage_error(f"cannot read {path}: {exc}", 1) from None
    try:
        return parse_csv(text) if chosen == "csv" else parse_bitwarden_json(text)
    except ImportFormatError as exc:
        raise usage_error(f"{path} is not a {chosen} export: {exc}", 1) from None


def import_file(
    file: Annotated[Path, typer.Argument(help="The export to read", dir_okay=False)],
    file_format: Annotated[
        str | None,
        typer.Option("--format", help="bitwarden (JSON) or csv; default: from the file name"),
    ] = None,
) -> None:
    """Import another manager's export (all or nothing)."""
    parsed = _parse(file, file_format)
    if not parsed.items:
        raise usage_error(f"{file} has no items", 1)
    password = master_password()

    async def work() -> None:
        async with unlocked(password) as session:
            with progress_bar() as progress:
                task = progress.add_task("Encrypting", total=len(parsed.items))
                count = await session.vault.import_parsed(
                    parsed, progress=lambda n: progress.advance(task, n)
                )
            await session.sync()
        out.print(f"Imported {count} items and {len(parsed.folders)} folders from {file}.")

    run(work)


def export_file(
    file: Annotated[Path, typer.Argument(help="Where to write (created 0600)", dir_okay=False)],
    plaintext: Annotated[
        bool,
        typer.Option("--plaintext", help="Decrypted, every secret in the clear (asks first)"),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask about --plaintext")] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file")] = False,
) -> None:
    """Export the vault: encrypted (default; opens with the master password) or --plaintext."""
    if file.exists() and not force:
        raise usage_error(f"{file} exists: choose another name, or --force", 1)
    password = master_password()
    if plaintext:
        err.print(
            "[yellow]warning:[/yellow] a plaintext export holds every password in the clear. "
            "Keep it off shared and synced disks, and delete it when done."
        )
        if not yes and not typer.confirm("Write a plaintext export?"):
            raise usage_error("nothing written", 1)

    async def work() -> int:
        async with unlocked(password) as session:
            if plaintext:
                document = _plaintext_export(session)
            else:
                document = await session.vault.export()
            _write_private(file, json.dumps(document, indent=2, ensure_ascii=False) + "\n", force)
            return len(document["items"])

    count = run(work)
    kind = "plaintext" if plaintext else "encrypted"
    out.print(f"Exported {count} items ({kind}) to {file}.")


def _plaintext_export(session: Unlocked) -> dict[str, Any]:
    items = session.items() + session.items(trashed=True)
    exported: list[dict[str, Any]] = []
    with progress_bar() as progress:
        task = progress.add_task("Exporting", total=len(items))
        for item in items:
            if item.deleted_at is None:
                exported.append(_bitwarden_item(item))
            progress.advance(task)
    return {
        "encrypted": False,
        "folders": [{"id": str(f.id), "name": f.name} for f in session.folders()],
        "items": exported,
    }


def _bitwarden_item(item: Item) -> dict[str, Any]:
    fields = item.fields
    entry: dict[str, Any] = {
        "id": str(item.id),
        "type": _TYPE_NUMBERS.get(item.type, 2),
        "name": fields.get("name"),
        "notes": fields.get("notes"),
        "favorite": item.favorite,
        "folderId": str(item.folder_id) if item.folder_id else None,
        "fields": [
            {"name": f.get("name"), "value": f.get("value"), "type": 0}
            for f in fields.get("fields") or []
        ],
    }
    login = fields.get("login")
    if isinstance(login, dict):
        entry["login"] = {
            "uris": [{"uri": uri} for uri in login.get("uris") or []],
            "username": login.get("username"),
            "password": login.get("password"),
            "totp": login.get("totp"),
        }
    for section in ("card", "identity"):
        if isinstance(fields.get(section), dict):
            entry[section] = fields[section]
    return entry


def _write_private(path: Path, text: str, overwrite: bool) -> None:
    """Created 0600 from the first byte (never world-readable, even briefly)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        descriptor = os.open(path, flags, 0o600)
    except FileExistsError:
        raise UsageError(f"{path} exists: choose another name, or --force") from None
    os.fchmod(descriptor, 0o600)  # an existing file overwritten with --force too
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
