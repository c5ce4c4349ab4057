"""Where `vault` keeps its login: `$VAULT_CLI_HOME/session.json` (default
`~/.config/vaultapi-cli/`), mode 0600 in a 0700 directory; the encrypted
vault cache (cache.py) lives beside it.

It holds the server URL, the e-mail and the current refresh token — never the
password, the access token or any key. Refresh tokens rotate: every command
that talks to the server as the user stores the new one before doing anything
else, so a crash mid-command does not lose the session.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

HOME_ENV = "VAULT_CLI_HOME"
FILE_NAME = "session.json"
CACHE_FILE_NAME = "cache.json"


def home() -> Path:
    configured = os.environ.get(HOME_ENV)
    if configured:
        return Path(configured)
    return Path.home() / ".config" / "vaultapi-cli"


@dataclass
class StoredSession:
    server: str
    email: str
    refresh_token: str


def path() -> Path:
    return home() / FILE_NAME


def load() -> StoredSession | None:
    try:
        data = json.loads(path().read_text(encoding="utf-8"))
        return StoredSession(
            server=str(data["server"]),
            email=str(data["email"]),
            refresh_token=str(data["refresh_token"]),
        )
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        return None  # unreadable: as if logged out; `vault login` writes a good one


def save(session: StoredSession) -> Path:
    return write_private(FILE_NAME, json.dumps(asdict(session)))


def write_private(name: str, text: str) -> Path:
    """Write `home()/name` atomically (a crash leaves the old file or the new,
    never half of one), never readable by others even for an instant: 0600 in
    a 0700 directory."""
    directory = home()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    target = directory / name
    temporary = directory / f".{name}.{os.getpid()}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return target


def forget() -> bool:
    """Forget the session, and the encrypted cache with it (it belongs to that
    login; the next one starts a fresh one)."""
    (home() / CACHE_FILE_NAME).unlink(missing_ok=True)
    try:
        path().unlink()
    except FileNotFoundError:
        return False
    return True
