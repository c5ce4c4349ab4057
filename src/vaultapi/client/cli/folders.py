"""`vault folder ls / add / rename / rm`: folder names are encrypted like items."""

from __future__ import annotations

from typing import Annotated

import typer

from vaultapi.client.cli.common import err, master_password, out, print_rows, run
from vaultapi.client.cli.fields import resolve_folder
from vaultapi.client.cli.unlocked import unlocked

folder_app = typer.Typer(help="Folders.", no_args_is_help=True)

FolderName = Annotated[str, typer.Argument(help="The folder's name (case-insensitive) or id")]


@folder_app.command("ls")
def folder_ls(
    offline: Annotated[bool, typer.Option("--offline", help="Read the local copy only")] = False,
) -> None:
    """Folders, with how many (untrashed) items each holds."""
    password = master_password()

    async def work() -> None:
        async with unlocked(password, offline=offline) as session:
            counts: dict[object, int] = {}
            for item in session.items():
                counts[item.folder_id] = counts.get(item.folder_id, 0) + 1
            rows = [
                (str(folder.id), folder.name, str(counts.get(folder.id, 0)))
                for folder in session.folders()
            ]
        if not rows:
            err.print("No folders.")
            return
        print_rows(("id", "name", "items"), rows)

    run(work)


@folder_app.command("add")
def folder_add(name: Annotated[str, typer.Argument(help="The new folder's name")]) -> None:
    password = master_password()

    async def work() -> None:
        async with unlocked(password) as session:
            folder = await session.vault.add_folder(name)
            await session.sync()
        out.print(f"Added folder {folder.name!r} ({folder.id}).")

    run(work)


@folder_app.command("rename")
def folder_rename(
    folder: FolderName, new_name: Annotated[str, typer.Argument(help="Its new name")]
) -> None:
    password = master_password()

    async def work() -> None:
        async with unlocked(password) as session:
            found = resolve_folder(session.folders(), folder)
            renamed = await session.vault.rename_folder(found, new_name)
            await session.sync()
        out.print(f"Renamed folder {found.name!r} to {renamed.name!r}.")

    run(work)


@folder_app.command("rm")
def folder_rm(
    folder: FolderName,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")] = False,
) -> None:
    """Delete a folder; its items stay, in no folder."""
    password = master_password()

    async def work() -> None:
        async with unlocked(password) as session:
            found = resolve_folder(session.folders(), folder)
            if not yes and not typer.confirm(f"Delete folder {found.name!r} (items stay)?"):
                err.print("Nothing done.")
                raise typer.Exit(1)
            await session.vault.delete_folder(found)
            await session.sync()
        out.print(f"Deleted folder {found.name!r}.")

    run(work)
