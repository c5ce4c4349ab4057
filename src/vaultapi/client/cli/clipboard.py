"""Copying a secret to the clipboard for `vault get --copy`.

pyperclip finds the platform's clipboard (pbcopy, xclip / xsel, wl-copy,
Windows). `VAULT_CLIPBOARD_COMMAND` overrides it with a command that reads
the text on its standard input (e.g. `wl-copy`, `xclip -selection
clipboard`, or a terminal multiplexer's buffer); it is run without a shell.
The secret goes to the command's stdin, never to its arguments.
"""

from __future__ import annotations

import os
import shlex
import subprocess

import pyperclip  # type: ignore[import-untyped]

from vaultapi.client.cli.common import UsageError

COMMAND_ENV = "VAULT_CLIPBOARD_COMMAND"
TIMEOUT_SECONDS = 10.0


class NoClipboardError(UsageError):
    """No clipboard to copy to."""


def copy(text: str) -> None:
    command = os.environ.get(COMMAND_ENV, "").strip()
    if command:
        _copy_with(shlex.split(command), text)
        return
    try:
        pyperclip.copy(text)
    except pyperclip.PyperclipException:
        raise NoClipboardError(
            "no clipboard available (on Linux install xclip, xsel or wl-clipboard, or set "
            f"{COMMAND_ENV} to a command that reads the text on stdin); use --field to print it"
        ) from None


def _copy_with(argv: list[str], text: str) -> None:
    try:
        done = subprocess.run(  # noqa: S603 - the user's own configured command, no shell
            argv,
            input=text.encode(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NoClipboardError(f"{COMMAND_ENV} ({argv[0]}) failed: {exc}") from None
    if done.returncode != 0:
        raise NoClipboardError(f"{COMMAND_ENV} ({argv[0]}) exited with {done.returncode}")
