"""`vault` on the vault itself, against a real server process (PostgreSQL):
items, folders, the encrypted cache, generate, import / export, run, --copy."""

from __future__ import annotations

import asyncio
import json
import math
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.servers import RunningServer
from tests.support.vault_cli import PASSWORD, CliUser, cli_server, invoke, new_user
from vaultapi import client
from vaultapi.client.cli import generate
from vaultapi.client.importers import parse_bitwarden_json
from vaultapi.client.vault import Vault

pytestmark = pytest.mark.slow

SECRET = "s3cret-Zebra-Quartz-91"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with cli_server(tmp_path_factory.mktemp("vault-cli-items")) as running:
        yield running


@pytest.fixture
def user(server: RunningServer, tmp_path: Path) -> CliUser:
    return new_user(server, tmp_path / "home")


def rows(output: str) -> list[list[str]]:
    """The tab-separated rows `ls` prints in a pipe, header first."""
    return [line.split("\t") for line in output.splitlines() if line]


def item_id(user: CliUser, name: str) -> str:
    found = [row[0] for row in rows(user.ok("ls").out)[1:] if row[1] == name]
    assert len(found) == 1, found
    return found[0]


def test_add_list_get_edit_remove_restore(user: CliUser) -> None:
    added = user.ok(
        "add", "GitHub", "-u", "octocat", "--url", "https://github.com", more=f"{SECRET}\n"
    )
    assert "Added 'GitHub'" in added.out
    user.ok("add", "Shopping list", "--type", "note", "--notes", "milk")

    listed = rows(user.ok("ls").out)
    assert listed[0] == ["id", "name", "username", "url", "folder"]
    assert [row[1:4] for row in listed[1:]] == [
        ["GitHub", "octocat", "https://github.com"],
        ["Shopping list", "", ""],
    ]
    assert [row[1] for row in rows(user.ok("ls", "--search", "OCTO").out)[1:]] == ["GitHub"]

    shown = user.ok("get", "github").out  # names are case-insensitive
    assert "octocat" in shown
    assert SECRET not in shown, "the password is masked unless asked for"
    assert user.ok("get", "GitHub", "--field", "password").out == SECRET + "\n"
    github = item_id(user, "GitHub")
    assert user.ok("get", github, "-f", "username").out == "octocat\n"

    edited = user.ok("edit", "GitHub", "--username", "monalisa", "--password", more="n3w-pass\n")
    assert "revision" in edited.out
    assert user.ok("get", "GitHub", "-f", "username").out == "monalisa\n"
    assert user.ok("get", "GitHub", "-f", "password").out == "n3w-pass\n"
    history = rows(user.ok("history", "GitHub").out)
    assert history[0] == ["revision", "name", "username", "password"]
    assert [row[2:] for row in history[1:]] == [["octocat", "different"]]
    assert SECRET in user.ok("history", "GitHub", "--show-passwords").out

    refused = user.unlocked("rm", "GitHub", more="n\n")
    assert refused.code == 1
    assert user.ok("get", "GitHub", "-f", "username").code == 0
    assert "to the trash" in user.ok("rm", "GitHub", more="y\n").out
    assert user.unlocked("get", "GitHub").code == 1
    assert [row[1] for row in rows(user.ok("ls", "--trash").out)[1:]] == ["GitHub"]
    assert "Restored" in user.ok("restore", "GitHub").out
    assert user.ok("get", "GitHub", "-f", "password").out == "n3w-pass\n"

    assert "for good" in user.ok("rm", "GitHub", "--purge", "--yes").out
    assert user.unlocked("restore", "GitHub").code == 1
    assert user.unlocked("history", github).code == 1


def test_names_are_shown_as_written_not_as_markup(user: CliUser) -> None:
    user.ok("add", "[bold]Work[/bold] mail", more="pw\n")
    assert "[bold]Work[/bold] mail" in user.ok("ls").out
    assert "name      [bold]Work[/bold] mail" in user.ok("get", "[bold]work[/bold] MAIL").out
    missing = user.unlocked("get", "[red]nope[/red]")
    assert "'[red]nope[/red]'" in missing.err


def test_unknown_and_ambiguous_names_are_clear_errors(user: CliUser) -> None:
    user.ok("add", "Twin", "-u", "first", more="one\n")
    user.ok("add", "twin", "-u", "second", more="two\n")
    result = user.unlocked("get", "TWIN", "-f", "password")
    assert result.code == 1
    assert "2 items are named 'TWIN'" in result.err
    assert "first" in result.err
    assert "second" in result.err
    assert "one" not in result.err.split("\n", 1)[1], "candidates are listed without secrets"
    by_id = rows(user.ok("ls").out)[1][0]
    assert user.ok("get", by_id, "-f", "password").out in ("one\n", "two\n")

    unknown = user.unlocked("get", "nope")
    assert (unknown.code, "no item named 'nope'" in unknown.err) == (1, True)
    missing_field = user.unlocked("get", by_id, "--field", "shoe size")
    assert (missing_field.code, "has no field 'shoe size'" in missing_field.err) == (1, True)
    no_folder = user.unlocked("add", "x", "--folder", "Nowhere", more="pw\n")
    assert (no_folder.code, "no folder 'Nowhere'" in no_folder.err) == (1, True)
    bad_field = user.unlocked("add", "x", "--field", "novalue", more="pw\n")
    assert (bad_field.code, "KEY=VALUE" in bad_field.err) == (1, True)
    assert user.unlocked("add", "x", "--type", "spaceship").code == 2
    user.ok("add", "Diary", "--type", "note")
    note_edit = user.unlocked("edit", "Diary", "--username", "me")
    assert (note_edit.code, "is a note: it has no login fields" in note_edit.err) == (1, True)


def test_wrong_password_and_not_logged_in(user: CliUser, tmp_path: Path) -> None:
    wrong = user.vault("ls", input="not the password\n")
    assert wrong.code == 1
    assert "does not decrypt with this password" in wrong.err
    assert user.vault("ls", input="\n").code == 2  # empty password

    nobody = invoke(tmp_path / "nobody", "ls", input=PASSWORD + "\n")
    assert (nobody.code, "not logged in" in nobody.err) == (1, True)
    assert invoke(tmp_path / "nobody", "ls", "--offline", input=PASSWORD + "\n").code == 1


def test_edit_conflict_is_refused_with_a_clear_message(user: CliUser) -> None:
    user.ok("add", "Bank", "-u", "me", more="pw\n")
    revision = next(
        line.split()[1]
        for line in user.ok("get", "Bank").out.splitlines()
        if line.startswith("revision")
    )
    user.ok("edit", "Bank", "--notes", "changed elsewhere")
    stale = user.unlocked("edit", "Bank", "--username", "mine", "--if-revision", revision)
    assert stale.code == 1
    assert "stale_revision" in stale.err
    assert "changed on the server" in stale.err
    assert user.ok("get", "Bank", "-f", "username").out == "me\n", "nothing overwritten"
    assert user.unlocked("edit", "Bank", "--field", "password=x").code == 1  # secrets: not options


def test_folders(user: CliUser) -> None:
    user.ok("folder", "add", "Work")
    user.ok("folder", "add", "Home")
    user.ok("add", "Jira", "--folder", "work", more="pw\n")
    user.ok("add", "Netflix", more="pw\n")
    folders = rows(user.ok("folder", "ls").out)
    assert [row[1:] for row in folders[1:]] == [["Home", "0"], ["Work", "1"]]
    assert [row[1] for row in rows(user.ok("ls", "--folder", "Work").out)[1:]] == ["Jira"]
    assert rows(user.ok("ls").out)[1][4] == "Work"

    user.ok("folder", "rename", "Work", "Office")
    assert rows(user.ok("ls", "--folder", "office").out)[1][1] == "Jira"
    user.ok("edit", "Netflix", "--folder", "Home")
    user.ok("edit", "Jira", "--folder", "")
    assert [row[1] for row in rows(user.ok("ls", "--folder", "Home").out)[1:]] == ["Netflix"]

    assert user.unlocked("folder", "rm", "Home", more="n\n").code == 1
    user.ok("folder", "rm", "Home", "--yes")
    assert [row[1] for row in rows(user.ok("folder", "ls").out)[1:]] == ["Office"]
    assert rows(user.ok("ls").out)[2][4] == "", "its items stay, in no folder"
    assert user.unlocked("folder", "rename", "Home", "x").code == 1


def test_cache_is_private_encrypted_and_synced_by_delta(user: CliUser) -> None:
    user.ok("add", "Mail", "-u", "me@example.com", more=f"{SECRET}\n")
    cache_file = user.home / "cache.json"
    assert stat.S_IMODE(cache_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(user.home.stat().st_mode) == 0o700
    text = cache_file.read_text()
    for plaintext in (SECRET, "me@example.com", "Mail", PASSWORD):
        assert plaintext not in text, f"{plaintext!r} is in the cache in the clear"
    cache = json.loads(text)
    first_cursor = cache["cursor"]
    assert len(cache["items"]) == 1
    assert not list(user.home.glob(".*.tmp")), "no temporary file left behind"

    async def change_elsewhere() -> None:
        async with httpx.AsyncClient(base_url=user.server.base_url) as http:
            login = await client.login(http, user.email, PASSWORD)
            vault = Vault(http, login)
            await vault.sync()
            await vault.add({"name": "Added elsewhere", "login": {"password": "x"}})

    asyncio.run(change_elsewhere())
    assert "Added elsewhere" not in user.ok("ls", "--offline").out
    synced = user.ok("sync").out
    assert "2 items" in synced
    assert json.loads(cache_file.read_text())["cursor"] > first_cursor
    assert "Added elsewhere" in user.ok("ls", "--offline").out
    assert user.ok("get", "Mail", "-f", "password", "--offline").out == SECRET + "\n"

    user.vault("logout")
    assert not cache_file.exists(), "logout forgets the cache with the session"


def test_generate() -> None:
    home = Path("/nonexistent-home")  # needs no login, no files
    made = invoke(home, "generate", "--length", "32")
    assert made.code == 0
    value = made.out.strip()
    assert len(value) == 32
    assert any(c.islower() for c in value)
    assert any(c.isupper() for c in value)
    assert any(c.isdigit() for c in value)
    assert any(c in generate.SYMBOLS for c in value)
    assert "entropy: 2" in made.err  # ~205 bits
    digits = invoke(home, "generate", "--no-lower", "--no-upper", "--no-symbols", "-l", "10")
    assert digits.out.strip().isdigit()
    assert "entropy: 33.2 bits" in digits.err
    plain = invoke(home, "generate", "--exclude-ambiguous", "-l", "200").out.strip()
    assert not set(plain) & generate.AMBIGUOUS

    phrase = invoke(home, "generate", "--passphrase", "--words", "5", "--separator", " ")
    words = phrase.out.split()
    assert len(words) == 5
    assert set(words) <= set(generate.wordlist())
    assert "entropy: 64.6 bits" in phrase.err
    fancy = invoke(home, "generate", "-p", "--capitalize", "--number", "--separator", "_").out
    parts = fancy.strip().split("_")
    assert all(part[0].isupper() for part in parts)
    assert sum(part[-1].isdigit() for part in parts) == 1
    assert len(generate.wordlist()) == 7776

    assert (
        invoke(home, "generate", "--no-lower", "--no-upper", "--no-digits", "--no-symbols").code
        == 2
    )
    assert invoke(home, "generate", "-l", "4").code == 2
    assert invoke(home, "generate", "-p", "-w", "2").code == 2


def test_password_entropy_matches_a_brute_count() -> None:
    # 2 classes of sizes 2 and 3, length 3: 5**3 strings minus those from one class only
    assert generate._password_entropy(3, [2, 3]) == pytest.approx(math.log2(5**3 - 2**3 - 3**3))


def test_add_with_generated_password(user: CliUser) -> None:
    added = user.ok("add", "Generated", "--generate", "--length", "40")
    assert "Generated a password" in added.err
    value = user.ok("get", "Generated", "-f", "password").out.strip()
    assert len(value) == 40
    assert value not in added.out + added.err


def test_import_and_export(user: CliUser, tmp_path: Path) -> None:
    source = tmp_path / "passwords.csv"
    source.write_text(
        "name,url,username,password,folder\n"
        f"Router,http://192.168.0.1,admin,{SECRET},Home\n"
        "Forum,https://forum.example,me,hunter2,\n"
    )
    imported = user.ok("import", str(source))
    assert "Imported 2 items and 1 folders" in imported.out
    assert user.ok("get", "Router", "-f", "password").out == SECRET + "\n"
    assert [row[1] for row in rows(user.ok("ls", "--folder", "Home").out)[1:]] == ["Router"]

    bad = tmp_path / "bad.csv"
    bad.write_text("title,notes\nx,y\n")
    refused = user.unlocked("import", str(bad))
    assert (refused.code, "not a csv export" in refused.err) == (1, True)
    assert user.unlocked("import", str(tmp_path / "missing.json")).code == 1

    encrypted = tmp_path / "backup.json"
    assert "Exported 2 items (encrypted)" in user.ok("export", str(encrypted)).out
    assert stat.S_IMODE(encrypted.stat().st_mode) == 0o600
    text = encrypted.read_text()
    assert SECRET not in text
    assert "Router" not in text
    assert json.loads(text)["account"]["protected_account_key"]
    again = user.unlocked("export", str(encrypted))
    assert (again.code, "exists" in again.err) == (1, True)

    clear = tmp_path / "clear.json"
    declined = user.unlocked("export", str(clear), "--plaintext", more="n\n")
    assert declined.code == 1
    assert not clear.exists()
    written = user.ok("export", str(clear), "--plaintext", "--yes")
    assert "in the clear" in written.err
    assert stat.S_IMODE(clear.stat().st_mode) == 0o600
    parsed = parse_bitwarden_json(clear.read_text())  # what `vault import` reads back
    assert sorted(item.fields["name"] for item in parsed.items) == ["Forum", "Router"]
    assert parsed.folders == ["Home"]
    router = next(item for item in parsed.items if item.fields["name"] == "Router")
    assert (router.folder, router.fields["login"]["password"]) == ("Home", SECRET)


def test_run_injects_secrets_into_the_child_only(user: CliUser, tmp_path: Path) -> None:
    user.ok("add", "api.example.com", "-u", "bot", more=f"{SECRET}\n")
    seen = tmp_path / "seen"
    script = (
        f"import os, sys; open({str(seen)!r}, 'w')"
        ".write(os.environ['TOKEN'] + '|' + os.environ['USER_NAME']); sys.exit(7)"
    )
    result = user.unlocked(
        "run",
        "--env",
        "TOKEN=api.example.com.password",
        "-e",
        "USER_NAME=api.example.com.username",
        "--",
        sys.executable,
        "-c",
        script,
    )
    assert result.code == 7, result
    assert seen.read_text() == f"{SECRET}|bot"
    assert SECRET not in result.out + result.err
    assert SECRET not in (user.home / "cache.json").read_text()

    assert user.unlocked("run", "-e", "TOKEN=nothing-here.password", "--", "true").code == 1
    assert user.unlocked("run", "-e", "TOKEN", "--", "true").code == 2
    assert user.unlocked("run", "-e", "1X=api.example.com.password", "--", "true").code == 2
    assert user.unlocked("run", "--", "true").code == 2
    missing = user.unlocked("run", "-e", "T=api.example.com.password", "--", "no-such-command-xyz")
    assert (missing.code, "command not found" in missing.err) == (127, True)


def test_copy_to_clipboard(user: CliUser, tmp_path: Path) -> None:
    user.ok("add", "Wifi", more=f"{SECRET}\n")
    no_clipboard = user.unlocked("get", "Wifi", "--copy", env={"PATH": str(tmp_path)})
    assert no_clipboard.code == 1
    assert "no clipboard available" in no_clipboard.err
    assert SECRET not in no_clipboard.out + no_clipboard.err

    clip = tmp_path / "clipboard"
    copied = user.unlocked("get", "Wifi", "--copy", env={"VAULT_CLIPBOARD_COMMAND": f"tee {clip}"})
    assert copied.code == 0, copied
    assert clip.read_text() == SECRET
    assert SECRET not in copied.out + copied.err
    failing = user.unlocked("get", "Wifi", "-c", env={"VAULT_CLIPBOARD_COMMAND": "false"})
    assert (failing.code, "exited with 1" in failing.err) == (1, True)
