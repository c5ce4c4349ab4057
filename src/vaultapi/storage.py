"""Local files the server keeps: the data directory and SQLite databases.

They hold verifiers, wrapped keys and ciphertext — material for an offline
dictionary attack — so they are private to the server's user: directory 0700,
files 0600. The database file is created by us before SQLite opens it,
because SQLite gives its `-wal` and `-shm` files the database file's mode.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

from vaultapi.config import Settings
from vaultapi.db.engine import is_sqlite

log = logging.getLogger(__name__)


def ensure_private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("tightening permissions of %s from %04o to 0700", path, mode)
        path.chmod(0o700)


def ensure_private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 if it is missing; tighten it if it exists."""
    descriptor = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(descriptor)
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        if candidate.exists():
            mode = stat.S_IMODE(candidate.stat().st_mode)
            if mode & 0o077:
                log.warning("tightening permissions of %s from %04o to 0600", candidate, mode)
                candidate.chmod(0o600)


def prepare_database_storage(settings: Settings) -> None:
    """Before the database is first opened: for SQLite, a private file in a
    private directory (the data directory for the embedded default)."""
    url = settings.effective_database_url()
    if not is_sqlite(url):
        return
    database = make_url(url).database
    if not database or database == ":memory:":
        return
    path = Path(database)
    if settings.database_url is None:
        ensure_private_dir(path.parent)
    else:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    ensure_private_file(path)
