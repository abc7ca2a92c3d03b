"""A device's durable state in one SQLite file: credentials, the outbox, the CRDT replica.

Each write is a single small statement in WAL mode (tens of microseconds), so the
session does them on its event loop; nothing here waits on the network.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from pycrdt import merge_updates

from qira.errors import DataDirError

__all__ = ["DeviceState", "is_paired"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, type TEXT NOT NULL, payload TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS doc_updates (id INTEGER PRIMARY KEY AUTOINCREMENT, doc TEXT NOT NULL, data BLOB NOT NULL);
"""


def is_paired(directory: Path) -> bool:
    """Whether a device's state directory holds a token (creates nothing when it does not)."""
    if not (Path(directory) / "device.db").exists():
        return False
    state = DeviceState(directory)
    try:
        return bool(state.get("token"))
    finally:
        state.close()


class DeviceState:
    def __init__(self, directory: Path) -> None:
        directory = Path(directory)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(directory / "device.db", isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise DataDirError(f"cannot open device state in {directory}: {exc}") from exc

    def close(self) -> None:
        self.conn.close()

    def get(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set(self, key: str, value: str | int) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, str(value)))

    def set_many(self, items: dict[str, str | int]) -> None:
        with self.conn:
            self.conn.execute("BEGIN")
            self.conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, str(v)) for k, v in items.items()])

    # -- outbox --------------------------------------------------------------

    def next_seq(self) -> int:
        row = self.conn.execute("SELECT max(seq) FROM outbox").fetchone()
        return max(int(self.get("next_seq", "1") or 1), (row[0] or 0) + 1)

    def enqueue_many(self, rows: list[tuple[int, str, dict[str, Any]]]) -> None:
        with self.conn:
            self.conn.execute("BEGIN")
            self.conn.executemany("INSERT INTO outbox VALUES (?, ?, ?)", [(s, t, json.dumps(p)) for s, t, p in rows])

    def outbox(self) -> list[tuple[int, str, dict[str, Any]]]:
        rows = self.conn.execute("SELECT seq, type, payload FROM outbox ORDER BY seq").fetchall()
        return [(seq, type, json.loads(payload)) for seq, type, payload in rows]

    def remove(self, seqs: list[int], next_seq: int) -> None:
        with self.conn:
            self.conn.execute("BEGIN")
            self.conn.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in seqs])
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('next_seq', ?)", (str(next_seq),))

    # -- replica -------------------------------------------------------------

    def add_update(self, doc: str, data: bytes) -> None:
        self.conn.execute("INSERT INTO doc_updates (doc, data) VALUES (?, ?)", (doc, data))

    def load_replica(self) -> dict[str, bytes]:
        """Every document's updates merged into one (and stored back that way)."""
        per_doc: dict[str, list[bytes]] = {}
        for doc, data in self.conn.execute("SELECT doc, data FROM doc_updates ORDER BY id"):
            per_doc.setdefault(doc, []).append(data)
        merged = {
            doc: (updates[0] if len(updates) == 1 else merge_updates(*updates)) for doc, updates in per_doc.items()
        }
        if any(len(u) > 1 for u in per_doc.values()):
            with self.conn:
                self.conn.execute("BEGIN")
                self.conn.execute("DELETE FROM doc_updates")
                self.conn.executemany("INSERT INTO doc_updates (doc, data) VALUES (?, ?)", list(merged.items()))
        return merged
