"""Private files: what the server writes holds password and token hashes and patients' ECG.

Every folder the server makes is 0700 and every file it writes 0600, whatever the process umask: modes are set
explicitly (os.open with a mode, then fchmod/chmod, since the umask only ever removes bits). Folders that
already exist are left alone, except the server's own (`prepare_state`), which are tightened.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from server.core.settings import Settings

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Make `path` and any missing parents 0700 (the ones that exist keep their mode, `path` itself is set)."""
    path = Path(path)
    missing: list[Path] = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=FOLDER_MODE)
        except FileExistsError:
            pass  # made by another process meanwhile
        os.chmod(folder, FOLDER_MODE)
    if path.is_dir() and not missing:
        os.chmod(path, FOLDER_MODE)
    return path


def private_file(path: Path) -> Path:
    """`path` exists and is 0600 (made empty if missing; an existing file keeps its content)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return Path(path)


def open_private(path: Path, mode: str = "a", **kwargs: Any) -> IO[Any]:
    """open() for appending or writing ('a', 'ab', 'w', 'wb'), the file 0600 from its first byte."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode.startswith("a") else os.O_TRUNC)
    fd = os.open(path, flags, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        return os.fdopen(fd, mode, **kwargs)
    except BaseException:
        os.close(fd)
        raise


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` whole (a temporary 0600 file renamed over it)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open_private(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def sqlite_file(url: str) -> Path | None:
    """The database file of a sqlite:/// URL (None for another database, memory or a file: URI)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def private_sqlite(path: Path) -> None:
    """The database file 0600 before SQLite opens it (SQLite gives its -wal and -shm files the database file's
    mode), and those of an existing database tightened; its folder made 0700 when missing."""
    if not path.parent.exists():
        private_dir(path.parent)
    private_file(path)
    for suffix in ("-wal", "-shm", "-journal"):
        sibling = path.with_name(path.name + suffix)
        if sibling.exists():
            os.chmod(sibling, FILE_MODE)


def prepare_state(settings: Settings) -> None:
    """The server's folders 0700 (the state folder too when the server makes it) and its SQLite databases (its
    own and an MLflow store in a SQLite file) 0600, before anything opens them. The API, the worker and every
    `heartbeat server` command call this first."""
    if not settings.state_dir.exists():
        private_dir(settings.state_dir)
    for folder in (settings.state_dir / "server", settings.log_folder, settings.jobs_folder):
        private_dir(folder)
    for url in (settings.db_url, settings.tracking_uri):
        path = sqlite_file(url) if url.startswith("sqlite:") else None
        if path is not None:
            try:
                private_sqlite(path)
            except OSError:
                pass  # an unusable path: the first connection reports it (health says so; no crash here)
