"""Items: `vault sync / ls / get / add / edit / rm / restore / history`.

Each command unlocks the vault (master password: prompt, or first line of
stdin), delta-syncs the encrypted cache, and works on the decrypted items in
memory. An item is named by its id or its name (case-insensitive); a name
shared by several items is refused with the list of their ids.
"""

from __future__ import annotations

from typing import Annotated

import typer

from vaultapi.client.cli import clipboard
from vaultapi.client.cli.common import (
    UsageError,
    err,
    errors,
    master_password,
    out,
    print_rows,
    run,
    secret_from_user,
    usage_error,
)
from vaultapi.client.cli.fields import (
    SECRET_FIELDS,
    get_field,
    item_label,
    new_fields,
    parse_assignments,
    resolve_folder,
    resolve_item,
    set_field,
    url_of,
    username_of,
)
from vaultapi.client.cli.generate import GeneratorError, password
from vaultapi.client.cli.unlocked import item_name, unlocked
from vaultapi.client.vault import Item

Offline = Annotated[
    bool, typer.Option("--offline", help="Read the local encrypted copy; do not contact the server")
]
Name = Annotated[str, typer.Argument(help="The item's name (case-insensitive) or id")]
Fields = Annotated[
    list[str] | None,
    typer.Option("--field", "-f", help="A custom field KEY=VALUE (repeatable; not for secrets)"),
]


def sync() -> None:
    """Bring the local encrypted copy up to date (only what changed since the last sync)."""
    password_ = master_password()

    async def work() -> None:
        async with unlocked(password_) as session:
            out.print(
                f"{len(session.items())} items, {len(session.folders())} folders "
                f"(revision {session.cache.cursor})"
            )

    run(work)


def list_items(
    folder: Annotated[str | None, typer.Option("--folder", help="Only this folder's items")] = None,
    search: Annotated[
        str | None, typer.Option("--search", "-q", help="Name, username or URL contains this")
    ] = None,
    trash: Annotated[bool, typer.Option("--trash", help="The trashed items instead")] = False,
    offline: Offline = False,
) -> None:
    """List items: id, name, username, URL, folder (tab-separated when piped)."""
    password_ = master_password()

    async def work() -> None:
        async with unlocked(password_, offline=offline) as session:
            items = session.items(trashed=trash)
            if folder is not None:
                wanted = resolve_folder(session.folders(), folder).id
                items = [item for item in items if item.folder_id == wanted]
            if search:
                needle = search.lower()
                items = [
                    item
                    for item in items
                    if needle in f"{item_name(item)}\n{username_of(item)}\n{url_of(item)}".lower()
                ]
            names = {f.id: f.name for f in session.folders()}
            rows = [
                (
                    str(item.id),
                    item_name(item),
                    username_of(item),
                    url_of(item),
                    names.get(item.folder_id, "") if item.folder_id else "",
                )
                for item in items
            ]
            if not rows:
                err.print("No items.")
                return
            print_rows(("id", "name", "username", "url", "folder"), rows)

    run(work)


def get(
    name: Name,
    field: Annotated[
        str | None,
        typer.Option("--field", "-f", help="Print only this field (password, username, url, ...)"),
    ] = None,
    copy: Annotated[
        bool,
        typer.Option("--copy", "-c", help="Copy the field (default: password) to the clipboard"),
    ] = False,
    offline: Offline = False,
) -> None:
    """Show an item (secrets masked), or print / copy one field."""
    password_ = master_password()

    async def work() -> None:
        async with unlocked(password_, offline=offline) as session:
            item = resolve_item(session.items(), name)
            folder_names = {f.id: f.name for f in session.folders()}
        if copy:
            chosen = field or "password"
            value = get_field(item, chosen)
            if value is None:
                raise UsageError(f"item {item_label(item)} has an empty {chosen}")
            clipboard.copy(value)
            err.print(f"Copied the {chosen} of {item_label(item)} to the clipboard.", markup=False)
            return
        if field is not None:
            typer.echo(get_field(item, field) or "")
            return
        _show(item, folder_names.get(item.folder_id, "") if item.folder_id else "")

    run(work)


def _show(item: Item, folder: str) -> None:
    rows: list[tuple[str, str]] = [("id", str(item.id)), ("type", item.type)]
    rows.append(("name", item_name(item)))
    login = item.fields.get("login")
    if isinstance(login, dict):
        rows += [
            ("username", username_of(item)),
            ("password", "•••••••• (--field password)" if login.get("password") else ""),
            ("url", url_of(item)),
        ]
        if login.get("totp"):
            rows.append(("totp", "•••••••• (--field totp)"))
    for section in ("card", "identity"):
        values = item.fields.get(section)
        if isinstance(values, dict):
            for key, value in values.items():
                if value:
                    shown = f"•••••••• (--field {key})" if key in SECRET_FIELDS else str(value)
                    rows.append((key, shown))
    for custom in item.fields.get("fields") or []:
        rows.append((str(custom.get("name")), str(custom.get("value") or "")))
    rows += [
        ("notes", str(item.fields.get("notes") or "")),
        ("folder", folder),
        ("favorite", "yes" if item.favorite else "no"),
        ("revision", str(item.revision)),
    ]
    if item.deleted_at is not None:
        rows.append(("trashed", item.deleted_at.isoformat(timespec="seconds")))
    width = max(len(key) for key, _ in rows)
    for key, value in rows:
        if value:
            out.print(f"{key.ljust(width)}  {value}", markup=False)


def _new_password(*, generate_one: bool, length: int, label: str = "Item password") -> str | None:
    if generate_one:
        try:
            return password(length).value
        except GeneratorError as exc:
            raise UsageError(str(exc)) from None
    return secret_from_user(label, confirm=True) or None


def add(
    name: Annotated[str, typer.Argument(help="The new item's name")],
    item_type: Annotated[
        str, typer.Option("--type", "-t", help="login (default) or note")
    ] = "login",
    username: Annotated[str | None, typer.Option("--username", "-u")] = None,
    url: Annotated[str | None, typer.Option("--url")] = None,
    notes: Annotated[str | None, typer.Option("--notes")] = None,
    folder: Annotated[str | None, typer.Option("--folder", help="Folder name or id")] = None,
    favorite: Annotated[bool, typer.Option("--favorite")] = False,
    field: Fields = None,
    generate_password: Annotated[
        bool, typer.Option("--generate", "-g", help="A random password instead of asking for one")
    ] = False,
    length: Annotated[int, typer.Option("--length", help="With --generate")] = 20,
    no_password: Annotated[bool, typer.Option("--no-password", help="A login without one")] = False,
) -> None:
    """Add an item (its password is asked for, never an option).

    The password is prompted for without echo, or read from the line of stdin
    after the master password; --generate makes a random one instead."""
    if item_type not in ("login", "note"):
        raise usage_error("--type is `login` or `note`")
    with errors():
        custom = parse_assignments(field or [])
    password_ = master_password()
    secret = None
    if item_type == "login" and not no_password:
        with errors():
            secret = _new_password(generate_one=generate_password, length=length)

    async def work() -> None:
        async with unlocked(password_) as session:
            folder_id = resolve_folder(session.folders(), folder).id if folder else None
            fields = new_fields(
                name=name,
                item_type=item_type,
                username=username,
                url=url,
                notes=notes,
                password=secret,
                custom=custom,
            )
            item = await session.vault.add(
                fields, type=item_type, folder_id=folder_id, favorite=favorite
            )
            await session.sync()
        out.print(f"Added {item_label(item)}.")
        if generate_password:
            err.print("Generated a password: `vault get NAME --field password` shows it.")

    run(work)


def edit(
    name: Name,
    new_name: Annotated[str | None, typer.Option("--name", help="Rename the item")] = None,
    username: Annotated[str | None, typer.Option("--username", "-u")] = None,
    url: Annotated[str | None, typer.Option("--url")] = None,
    notes: Annotated[str | None, typer.Option("--notes")] = None,
    folder: Annotated[
        str | None, typer.Option("--folder", help="Move to this folder (`` for none)")
    ] = None,
    favorite: Annotated[bool | None, typer.Option("--favorite/--no-favorite")] = None,
    field: Fields = None,
    change_password: Annotated[
        bool, typer.Option("--password", help="Set a new password (asked for without echo)")
    ] = False,
    generate_password: Annotated[
        bool, typer.Option("--generate", "-g", help="Set a new random password")
    ] = False,
    length: Annotated[int, typer.Option("--length", help="With --generate")] = 20,
    if_revision: Annotated[
        int | None,
        typer.Option("--if-revision", help="Only if the item is still at this revision"),
    ] = None,
) -> None:
    """Change an item (never overwriting someone else's change).

    The change is sent with the revision it was based on: if the item changed
    meanwhile, the server refuses it and nothing is overwritten."""
    with errors():
        custom = parse_assignments(field or [])
    password_ = master_password()
    secret = None
    if change_password or generate_password:
        with errors():
            secret = _new_password(
                generate_one=generate_password, length=length, label="New password"
            )
        if secret is None:
            raise usage_error("empty password: nothing changed")

    async def work() -> None:
        async with unlocked(password_) as session:
            item = resolve_item(session.items(), name)
            login_only = {"username": username, "url": url, "password": secret}
            if item.type != "login" and any(v is not None for v in login_only.values()):
                raise UsageError(f"{item_label(item)} is a {item.type}: it has no login fields")
            if if_revision is not None:
                item.revision = if_revision
            changes = {
                "name": new_name,
                "username": username,
                "url": url,
                "notes": notes,
                "password": secret,
            }
            for key, value in changes.items():
                if value is not None:
                    set_field(item.fields, key, value)
            for key, value in custom.items():
                if key.lower() in SECRET_FIELDS:
                    raise UsageError(f"--field {key}: secrets are never taken from options")
                set_field(item.fields, key, value)
            if folder is not None:
                item.folder_id = resolve_folder(session.folders(), folder).id if folder else None
            if favorite is not None:
                item.favorite = favorite
            updated = await session.vault.update(item)
            await session.sync()
        out.print(f"Updated {item_label(updated)} (revision {updated.revision}).")

    run(work)


def remove(
    name: Name,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")] = False,
    purge: Annotated[
        bool, typer.Option("--purge", help="Delete for good, history included (no restore)")
    ] = False,
) -> None:
    """Move an item to the trash, or with --purge delete it for good.

    `vault restore` brings a trashed item back; a purged one is gone, history
    included."""
    password_ = master_password()

    async def work() -> None:
        async with unlocked(password_) as session:
            candidates = session.items() + (session.items(trashed=True) if purge else [])
            item = resolve_item(candidates, name)
            action = "Delete for good" if purge else "Move to the trash"
            if not yes and not typer.confirm(f"{action} {item_label(item)}?"):
                raise UsageError("nothing done")
            if purge:
                await session.vault.purge(item)
                message = f"Deleted {item_label(item)} for good."
            else:
                await session.vault.trash(item)
                message = f"Moved {item_label(item)} to the trash."
            await session.sync()
        out.print(message)

    run(work)


def restore(name: Name) -> None:
    """Bring a trashed item back."""
    password_ = master_password()

    async def work() -> None:
        async with unlocked(password_) as session:
            item = resolve_item(session.items(trashed=True), name)
            restored = await session.vault.restore(item)
            await session.sync()
        out.print(f"Restored {item_label(restored)}.")

    run(work)


def history(
    name: Name,
    show_passwords: Annotated[
        bool, typer.Option("--show-passwords", help="Print the old passwords too")
    ] = False,
) -> None:
    """An item's previous versions, newest first."""
    password_ = master_password()

    async def work() -> None:
        async with unlocked(password_) as session:
            item = resolve_item(session.items() + session.items(trashed=True), name)
            versions = await session.vault.history(item.id)
        if not versions:
            err.print(f"{item_label(item)} has no earlier versions.", markup=False)
            return
        current = (
            get_field(item, "password") if isinstance(item.fields.get("login"), dict) else None
        )
        rows = []
        for version in versions:
            old = (
                get_field(version, "password")
                if isinstance(version.fields.get("login"), dict)
                else None
            )
            shown = (old or "") if show_passwords else ("same" if old == current else "different")
            rows.append((str(version.revision), item_name(version), username_of(version), shown))
        print_rows(("revision", "name", "username", "password"), rows)

    run(work)
