"""Read the exports users bring, into items the client then encrypts.

Formats: Bitwarden's unencrypted JSON export, and a generic CSV with a header
row naming some of `name, url, username, password, notes, folder, totp`
(case-insensitive; other columns are kept as custom fields). Nothing here
touches the network; `Vault.import_parsed` encrypts and sends one atomic
import.

Item JSON (what the client encrypts): `{"name", "notes", "fields": [...],
"login": {"uris": [...], "username", "password", "totp"}}` for logins, with
`card` or `identity` instead of `login` for those types, as in Bitwarden.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse


class ImportFormatError(ValueError):
    """The file is not in the format it claims to be; the message says where."""


@dataclass
class ParsedItem:
    type: str
    fields: dict[str, Any]
    folder: str | None = None
    favorite: bool = False


@dataclass
class ParsedImport:
    folders: list[str] = field(default_factory=list)
    items: list[ParsedItem] = field(default_factory=list)


_BITWARDEN_TYPES = {1: "login", 2: "note", 3: "card", 4: "identity"}
_CARD_FIELDS = ("cardholderName", "brand", "number", "expMonth", "expYear", "code")


def parse_bitwarden_json(text: str) -> ParsedImport:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFormatError(f"not JSON: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("items"), list):
        raise ImportFormatError("not a Bitwarden export: no 'items' list")
    if document.get("encrypted"):
        raise ImportFormatError(
            "this is an encrypted Bitwarden export: export again as unencrypted JSON "
            "(and delete that file once imported)"
        )
    folder_names = {
        str(f.get("id")): str(f.get("name") or "Unnamed folder")
        for f in document.get("folders") or []
        if isinstance(f, dict)
    }
    parsed = ParsedImport(folders=sorted(set(folder_names.values())))
    for position, raw in enumerate(document["items"], start=1):
        if not isinstance(raw, dict):
            raise ImportFormatError(f"item {position} is not an object")
        kind = _BITWARDEN_TYPES.get(raw.get("type"))  # type: ignore[arg-type]
        if kind is None:
            raise ImportFormatError(f"item {position}: unknown type {raw.get('type')!r}")
        fields: dict[str, Any] = {
            "name": str(raw.get("name") or "Untitled"),
            "notes": raw.get("notes"),
            "fields": [
                {"name": f.get("name"), "value": f.get("value")}
                for f in raw.get("fields") or []
                if isinstance(f, dict)
            ],
        }
        if kind == "login":
            login = raw.get("login") or {}
            fields["login"] = {
                "uris": [u.get("uri") for u in login.get("uris") or [] if u.get("uri")],
                "username": login.get("username"),
                "password": login.get("password"),
                "totp": login.get("totp"),
            }
        elif kind == "card":
            card = raw.get("card") or {}
            fields["card"] = {name: card.get(name) for name in _CARD_FIELDS}
        elif kind == "identity":
            fields["identity"] = dict(raw.get("identity") or {})
        parsed.items.append(
            ParsedItem(
                type=kind,
                fields=fields,
                folder=folder_names.get(str(raw.get("folderId"))) if raw.get("folderId") else None,
                favorite=bool(raw.get("favorite")),
            )
        )
    return parsed


_CSV_KNOWN = ("name", "url", "username", "password", "notes", "folder", "totp")


def parse_csv(text: str) -> ParsedImport:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if not reader.fieldnames:
        raise ImportFormatError("empty CSV: a header row is needed")
    columns = {name.strip().lower(): name for name in reader.fieldnames if name}
    if not {"url", "username", "password"} & set(columns):
        raise ImportFormatError(
            f"no url, username or password column among {sorted(columns)}: "
            f"expected a header with some of {', '.join(_CSV_KNOWN)}"
        )
    parsed = ParsedImport()
    folders: set[str] = set()
    for row_number, row in enumerate(reader, start=2):
        if None in row:
            raise ImportFormatError(f"row {row_number} has more cells than the header")

        def cell(column: str, row: dict[str, str] = row) -> str | None:
            value = row.get(columns.get(column, ""), "")
            return value if value else None

        url = cell("url")
        name = cell("name") or (urlparse(url).hostname if url else None) or "Untitled"
        folder = cell("folder")
        if folder:
            folders.add(folder)
        extra = [
            {"name": original, "value": row[original]}
            for lower, original in columns.items()
            if lower not in _CSV_KNOWN and row.get(original)
        ]
        parsed.items.append(
            ParsedItem(
                type="login",
                fields={
                    "name": name,
                    "notes": cell("notes"),
                    "fields": extra,
                    "login": {
                        "uris": [url] if url else [],
                        "username": cell("username"),
                        "password": cell("password"),
                        "totp": cell("totp"),
                    },
                },
                folder=folder,
            )
        )
    parsed.folders = sorted(folders)
    return parsed
