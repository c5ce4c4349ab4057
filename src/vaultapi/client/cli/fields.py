"""Reading and changing an item's decrypted JSON by field name, and finding
items by name.

Item JSON (importers.py): `{"name", "notes", "fields": [{"name", "value"}],
"login": {"uris", "username", "password", "totp"}}`, or `card` / `identity`
instead of `login`. A field name is one of `name, notes, username, password,
totp, url`, a key of `card` / `identity`, or a custom field's name
(case-insensitive).
"""

from __future__ import annotations

import uuid
from typing import Any

from vaultapi.client.cli.common import UsageError
from vaultapi.client.vault import Folder, Item

LOGIN_FIELDS = ("username", "password", "totp")
SECRET_FIELDS = frozenset({"password", "totp", "number", "code", "ssn", "passportNumber"})


class UnknownFieldError(UsageError):
    """The item has no such field."""


def get_field(item: Item, name: str) -> str | None:
    """The field's value (None when the item has the field but it is empty);
    UnknownFieldError when it has no such field at all."""
    data = item.fields
    key = name.lower()
    login = data.get("login") if isinstance(data.get("login"), dict) else None
    if key in ("name", "notes"):
        return _text(data.get(key))
    if login is not None and key in LOGIN_FIELDS:
        return _text(login.get(key))
    if login is not None and key in ("url", "uri"):
        uris = login.get("uris") or []
        return _text(uris[0]) if uris else None
    for section in ("card", "identity"):
        values = data.get(section)
        if isinstance(values, dict):
            for field_name, value in values.items():
                if field_name.lower() == key:
                    return _text(value)
    for custom in data.get("fields") or []:
        if isinstance(custom, dict) and str(custom.get("name") or "").lower() == key:
            return _text(custom.get("value"))
    raise UnknownFieldError(f"item {item_label(item)} has no field {name!r}")


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def new_fields(
    *,
    name: str,
    item_type: str,
    username: str | None,
    url: str | None,
    notes: str | None,
    password: str | None,
    custom: dict[str, str],
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": name,
        "notes": notes,
        "fields": [{"name": key, "value": value} for key, value in custom.items()],
    }
    if item_type == "login":
        fields["login"] = {
            "uris": [url] if url else [],
            "username": username,
            "password": password,
            "totp": None,
        }
    return fields


def set_field(fields: dict[str, Any], name: str, value: str | None) -> None:
    """Set one field (None or "" clears it; a custom field is removed)."""
    key = name.lower()
    value = value or None
    if key == "name":
        if not value:
            raise UsageError("an item needs a name")
        fields["name"] = value
        return
    if key == "notes":
        fields["notes"] = value
        return
    if key in (*LOGIN_FIELDS, "url", "uri"):
        login = fields.setdefault("login", {"uris": [], "username": None, "password": None})
        if key in ("url", "uri"):
            login["uris"] = [value] if value else []
        else:
            login[key] = value
        return
    customs = [c for c in fields.get("fields") or [] if str(c.get("name") or "").lower() != key]
    if value is not None:
        customs.append({"name": name, "value": value})
    fields["fields"] = customs


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    """`--field KEY=VALUE` options (custom, non-secret fields)."""
    result: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--field wants KEY=VALUE, not {pair!r}")
        result[key.strip()] = value
    return result


def username_of(item: Item) -> str:
    login = item.fields.get("login")
    return str(login.get("username") or "") if isinstance(login, dict) else ""


def url_of(item: Item) -> str:
    login = item.fields.get("login")
    uris = login.get("uris") if isinstance(login, dict) else None
    return str(uris[0]) if uris else ""


def item_label(item: Item) -> str:
    return f"{item.fields.get('name') or '(no name)'!r} ({item.id})"


def resolve_item(items: list[Item], query: str) -> Item:
    """By id, or by name (case-insensitive). Ambiguous or unknown: UsageError
    naming the candidates."""
    try:
        wanted = uuid.UUID(query)
    except ValueError:
        pass
    else:
        for item in items:
            if item.id == wanted:
                return item
        raise UsageError(f"no item with id {query}")
    matches = [
        item for item in items if str(item.fields.get("name") or "").lower() == query.lower()
    ]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UsageError(f"no item named {query!r} (try `vault ls --search {query}`)")
    candidates = "\n".join(
        f"  {item.id}  {item.fields.get('name')}  {username_of(item)}" for item in matches
    )
    raise UsageError(
        f"{len(matches)} items are named {query!r}; use the id of the one you mean:\n{candidates}"
    )


def resolve_folder(folders: list[Folder], query: str) -> Folder:
    try:
        wanted = uuid.UUID(query)
    except ValueError:
        matches = [f for f in folders if f.name.lower() == query.lower()]
    else:
        matches = [f for f in folders if f.id == wanted]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UsageError(f"no folder {query!r} (see `vault folder ls`)")
    candidates = "\n".join(f"  {f.id}  {f.name}" for f in matches)
    raise UsageError(f"{len(matches)} folders are named {query!r}; use an id:\n{candidates}")
