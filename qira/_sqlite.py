"""Opening a SQLite file for reading only, from a process that is not the hub.

Read commands (``qira devices list``, ``qira memory list``, ``qira audit``) must
work while a hub is writing the same files and on a read-only copy of the data
directory. So they never create tables, migrate, or change the journal mode, and
where SQLite cannot create its ``-shm`` file (a directory or file we may not
write) the database is opened ``immutable``: SQLite then takes no locks at all.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

__all__ = ["connect_readonly"]


def connect_readonly(path: Path, **kwargs: Any) -> sqlite3.Connection:
    """A read-only connection to ``path``; raises ``sqlite3.Error`` if it cannot be read.

    ``FileNotFoundError`` if there is no such file (read-only opening never creates one)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(str(path))
    base = f"file:{quote(str(path.resolve()))}?mode=ro"
    if not path.with_name(path.name + "-wal").exists():
        # Closed cleanly and open nowhere (a running hub keeps its -wal file): read the file
        # as it is, creating no -wal/-shm beside it.
        conn = sqlite3.connect(base + "&immutable=1", uri=True, **kwargs)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    try:
        conn = sqlite3.connect(base, uri=True, **kwargs)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        # A WAL database in a directory we cannot write: no -shm can be made, so read
        # the file as it is (what a stopped hub left is checkpointed into it).
        conn = sqlite3.connect(base + "&immutable=1", uri=True, **kwargs)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
