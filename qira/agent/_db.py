"""The agent's own SQLite file (``<data_dir>/agent/agent.sqlite``): audit log,
approvals, the schedule and each skill's key-value storage.

One connection, WAL, every call off the event loop behind one lock. LangGraph's
checkpoints live in a separate file next to it (``checkpoints.sqlite``).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

__all__ = ["AgentDB"]

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    device TEXT, device_name TEXT, thread TEXT, turn TEXT,
    skill TEXT NOT NULL,
    action TEXT NOT NULL,
    permissions_granted TEXT NOT NULL,
    permissions_used TEXT NOT NULL,
    approval TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL,
    duration_ms REAL
);
-- append-only: the database itself refuses edits and deletions
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE INDEX IF NOT EXISTS audit_ts ON audit(ts);

CREATE TABLE IF NOT EXISTS approvals (
    id TEXT PRIMARY KEY,
    thread TEXT NOT NULL, turn TEXT NOT NULL,
    skill TEXT NOT NULL, summary TEXT NOT NULL, risk TEXT NOT NULL,
    device TEXT, created_at REAL NOT NULL, expires_at REAL NOT NULL,
    status TEXT NOT NULL,           -- pending | approved | denied | expired
    resolved_by TEXT, resolved_at REAL
);

CREATE TABLE IF NOT EXISTS schedule (
    id TEXT PRIMARY KEY,
    due_at REAL NOT NULL,
    title TEXT NOT NULL, text TEXT NOT NULL, kind TEXT NOT NULL,
    device TEXT, origin_device TEXT, skill TEXT,
    trigger TEXT,                   -- "place=home": waits for that context event
    status TEXT NOT NULL,           -- pending | delivered | cancelled
    delivered_to TEXT, delivered_at REAL
);
CREATE INDEX IF NOT EXISTS schedule_due ON schedule(status, due_at);

CREATE TABLE IF NOT EXISTS skill_store (
    skill TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (skill, key)
);
"""


def agent_db_path(data_dir: Path) -> Path:
    """Where the hub keeps this file; ``qira audit`` reads it from another process."""
    return Path(data_dir) / "agent" / "agent.sqlite"


class AgentDB:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(SCHEMA)
        self._lock = threading.Lock()

    def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` with the connection (blocking)."""
        with self._lock:
            return fn(self._conn)

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.to_thread(self.call, fn)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
