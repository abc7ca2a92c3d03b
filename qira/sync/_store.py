"""The hub's ``sync.db``: devices, pairing codes, op results, pending events, CRDT updates.

The CLI (another process) uses the plain methods directly. The hub sends all of
its writes through one :class:`Writer` thread that commits them in batches (a
group commit: one fsync-free WAL commit for many operations), so the event loop
never blocks on SQLite and thousands of acked operations per second cost a few
commits. WAL with ``synchronous=NORMAL`` survives a killed process.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._sqlite import connect_readonly
from ..errors import DataDirError
from ._pairing import hash_secret, new_code, new_device_id, new_token, normalize_code

__all__ = ["DeviceRow", "SyncStore", "Writer", "open_db"]

log = logging.getLogger("qira.sync.store")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS devices (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, token_hash TEXT UNIQUE,
    created REAL NOT NULL, revoked REAL, last_seen REAL, last_active REAL,
    online INTEGER NOT NULL DEFAULT 0, capabilities TEXT NOT NULL DEFAULT '{}',
    acked_seq INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS pairing_codes (
    code_hash TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, expires REAL NOT NULL, used REAL);
CREATE TABLE IF NOT EXISTS op_results (
    device_id TEXT NOT NULL, seq INTEGER NOT NULL, reply TEXT NOT NULL,
    PRIMARY KEY (device_id, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    hub_seq INTEGER PRIMARY KEY, device_id TEXT NOT NULL, frame TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_by_device ON events (device_id, hub_seq);
CREATE TABLE IF NOT EXISTS doc_updates (id INTEGER PRIMARY KEY AUTOINCREMENT, doc TEXT NOT NULL, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('device_changes', 0);
INSERT OR IGNORE INTO meta VALUES ('hub_seq', 0);
"""


_BUMP_DEVICE_CHANGES = "UPDATE meta SET value = value + 1 WHERE key = 'device_changes'"


def open_db(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(_SCHEMA)
    except sqlite3.Error as exc:
        raise DataDirError(f"cannot open {path}: {exc}") from exc
    return conn


def _open_readonly(path: Path) -> sqlite3.Connection:
    try:
        return connect_readonly(path, check_same_thread=False, timeout=10)
    except FileNotFoundError:
        conn = sqlite3.connect(":memory:", check_same_thread=False)  # nothing paired yet: an empty registry
        conn.executescript(_SCHEMA)
        return conn
    except sqlite3.Error as exc:
        raise DataDirError(f"cannot read {path}: {exc}") from exc


@dataclass(frozen=True, kw_only=True)
class DeviceRow:
    id: str
    name: str
    kind: str
    token_hash: str | None
    created: float
    revoked: float | None
    last_seen: float | None
    last_active: float | None
    online: bool
    capabilities: dict[str, Any]
    acked_seq: int


def _row(r: tuple[Any, ...]) -> DeviceRow:
    return DeviceRow(
        id=r[0],
        name=r[1],
        kind=r[2],
        token_hash=r[3],
        created=r[4],
        revoked=r[5],
        last_seen=r[6],
        last_active=r[7],
        online=bool(r[8]),
        capabilities=json.loads(r[9] or "{}"),
        acked_seq=r[10],
    )


_DEVICE_COLS = "id, name, kind, token_hash, created, revoked, last_seen, last_active, online, capabilities, acked_seq"


DB_NAME = "sync.db"  # in the data directory


class SyncStore:
    """Plain, synchronous access; safe to use from the CLI while a hub runs."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self.conn = _open_readonly(self.path) if readonly else open_db(self.path)

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> SyncStore:
        return cls(Path(data_dir) / DB_NAME)

    @classmethod
    def open_readonly(cls, data_dir: Path) -> SyncStore:
        """For read commands (``qira devices list``): no schema, no writes, works while a hub
        runs and on a read-only copy of the data directory. No sync.db yet reads as empty."""
        return cls(Path(data_dir) / DB_NAME, readonly=True)

    def close(self) -> None:
        self.conn.close()

    # -- CLI ---------------------------------------------------------------

    def create_pairing_code(self, name: str, kind: str, ttl_s: float) -> str:
        self._require_unpaired(name)
        code = new_code()
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("DELETE FROM pairing_codes WHERE expires < ? OR used IS NOT NULL", (time.time(),))
            self.conn.execute(
                "INSERT INTO pairing_codes VALUES (?, ?, ?, ?, NULL)",
                (hash_secret(code), name, kind, time.time() + ttl_s),
            )
        return code

    def _require_unpaired(self, name: str) -> None:
        if self.active_device(name) is not None:
            raise ValueError(f"a device named {name!r} is already paired: revoke it first")

    def devices(self, *, include_revoked: bool = False) -> list[DeviceRow]:
        where = "" if include_revoked else "WHERE revoked IS NULL"
        rows = self.conn.execute(f"SELECT {_DEVICE_COLS} FROM devices {where} ORDER BY created").fetchall()
        return [_row(r) for r in rows]

    def device_by_token_hash(self, token_hash: str) -> DeviceRow | None:
        r = self.conn.execute(f"SELECT {_DEVICE_COLS} FROM devices WHERE token_hash = ?", (token_hash,)).fetchone()
        return _row(r) if r else None

    def device_for_token(self, token: str) -> DeviceRow | None:
        """The paired, not revoked device a bearer token belongs to."""
        row = self.device_by_token_hash(hash_secret(token))
        return row if row is not None and row.revoked is None else None

    def active_device(self, name: str) -> DeviceRow | None:
        r = self.conn.execute(
            f"SELECT {_DEVICE_COLS} FROM devices WHERE name = ? AND revoked IS NULL", (name,)
        ).fetchone()
        return _row(r) if r else None

    def revoke(self, name: str) -> DeviceRow | None:
        device = self.active_device(name)
        if device is None:
            return None
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("UPDATE devices SET revoked = ?, online = 0 WHERE id = ?", (time.time(), device.id))
            self.conn.execute(_BUMP_DEVICE_CHANGES)
        return device

    def issue_token(self, name: str, kind: str) -> tuple[DeviceRow, str]:
        """Create a device at once and return its token, without the pairing ``hello``:
        for a client on the hub's own machine, such as a script using the OpenAI-compatible API."""
        self._require_unpaired(name)
        token = new_token()
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            row = self.create_device(self.conn, name, kind, token, time.time())
            self.conn.execute(_BUMP_DEVICE_CHANGES)
        return row, token

    def device_changes(self) -> int:
        """A counter bumped by every change another process makes to the devices table."""
        return int(self.conn.execute("SELECT value FROM meta WHERE key = 'device_changes'").fetchone()[0])

    # -- hub start-up (before serving) ----------------------------------------

    def mark_all_offline(self) -> None:
        self.conn.execute("UPDATE devices SET online = 0 WHERE online = 1")

    def op_results(self) -> list[tuple[str, int, str]]:
        return self.conn.execute("SELECT device_id, seq, reply FROM op_results").fetchall()

    def pending_events(self) -> list[tuple[int, str, str]]:
        return self.conn.execute("SELECT hub_seq, device_id, frame FROM events ORDER BY hub_seq").fetchall()

    def hub_seq(self) -> int:
        return int(self.conn.execute("SELECT value FROM meta WHERE key = 'hub_seq'").fetchone()[0])

    def doc_updates(self) -> list[tuple[int, str, bytes]]:
        return self.conn.execute("SELECT id, doc, data FROM doc_updates ORDER BY id").fetchall()

    # -- hub writes (run on the Writer thread, inside its transaction) ---------

    @staticmethod
    def consume_code(conn: sqlite3.Connection, code: str, now: float) -> tuple[str, str] | None:
        h = hash_secret(normalize_code(code))
        row = conn.execute(
            "SELECT name, kind FROM pairing_codes WHERE code_hash = ? AND used IS NULL AND expires >= ?", (h, now)
        ).fetchone()
        if row is None:
            return None
        conn.execute("UPDATE pairing_codes SET used = ? WHERE code_hash = ?", (now, h))
        return row[0], row[1]

    @staticmethod
    def create_device(conn: sqlite3.Connection, name: str, kind: str, token: str, now: float) -> DeviceRow:
        # A name reused after a revoke (or by a racing second code) takes over: the older device is revoked.
        conn.execute("UPDATE devices SET revoked = ? WHERE name = ? AND revoked IS NULL", (now, name))
        device_id, token_hash = new_device_id(), hash_secret(token)
        conn.execute(
            "INSERT INTO devices (id, name, kind, token_hash, created) VALUES (?, ?, ?, ?, ?)",
            (device_id, name, kind, token_hash, now),
        )
        return DeviceRow(
            id=device_id,
            name=name,
            kind=kind,
            token_hash=token_hash,
            created=now,
            revoked=None,
            last_seen=None,
            last_active=None,
            online=False,
            capabilities={},
            acked_seq=0,
        )


Job = Callable[[sqlite3.Connection], Any]


class Writer:
    """One thread owns the write connection; jobs queued from the loop commit in batches, in order.

    Jobs submitted during one loop iteration reach the thread as one list (one wake-up):
    waking a thread per job makes the loop and the thread fight over the GIL, which
    shows up directly as fan-out latency."""

    def __init__(self, path: Path, *, max_batch: int = 1024) -> None:
        self.conn = open_db(path)
        self._queue: queue.SimpleQueue[list[tuple[Job, asyncio.Future[Any] | None]] | None] = queue.SimpleQueue()
        self._pending: list[tuple[Job, asyncio.Future[Any] | None]] = []
        self._max_batch = max_batch
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="qira-sync-writer", daemon=True)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._thread.start()

    def submit(self, job: Job) -> asyncio.Future[Any]:
        """Queue a job; the future resolves (on the loop) once its batch has committed."""
        assert self._loop is not None
        future: asyncio.Future[Any] = self._loop.create_future()
        self._add(job, future)
        return future

    def submit_nowait(self, job: Job) -> None:
        """Queue a job nobody waits for (still committed in order with the others)."""
        self._add(job, None)

    def _add(self, job: Job, future: asyncio.Future[Any] | None) -> None:
        if self._loop is None:  # before start(): straight to the queue, the thread drains it once running
            self._queue.put([(job, future)])
            return
        if not self._pending:
            self._loop.call_soon(self.kick)
        self._pending.append((job, future))

    def kick(self) -> None:
        """Hand what was submitted so far to the thread."""
        if self._pending:
            batch, self._pending = self._pending, []
            self._queue.put(batch)

    async def barrier(self) -> None:
        await self.submit(lambda _conn: None)

    def close(self) -> None:
        """Drain what is queued, commit it, stop the thread. Call :meth:`kick` on the loop first."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=30)
        self.conn.close()

    def _run(self) -> None:
        stop = False
        while not stop:
            item = self._queue.get()
            batch: list[tuple[Job, asyncio.Future[Any] | None]] = []
            while item is not None:
                batch.extend(item)
                if len(batch) >= self._max_batch:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if item is None:
                stop = True
            if batch:
                self._commit(batch)

    def _commit(self, batch: list[tuple[Job, asyncio.Future[Any] | None]]) -> None:
        outcomes: list[tuple[asyncio.Future[Any], bool, Any]] = []
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            for job, future in batch:
                self.conn.execute("SAVEPOINT job")
                try:
                    value = job(self.conn)
                    self.conn.execute("RELEASE job")
                    ok = True
                except Exception as exc:  # one failing job must not lose the batch
                    self.conn.execute("ROLLBACK TO job")
                    self.conn.execute("RELEASE job")
                    value, ok = exc, False
                    if future is None:
                        log.exception("sync store write failed")
                if future is not None:
                    outcomes.append((future, ok, value))
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            log.exception("sync store commit failed")
            err = DataDirError(f"sync.db commit failed: {exc}")
            outcomes = [(f, False, err) for _, f in batch if f is not None]
        if outcomes and self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(_resolve, outcomes)


def _resolve(outcomes: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in outcomes:
        if future.done():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
