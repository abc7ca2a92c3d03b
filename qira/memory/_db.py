"""The SQLite side of the memory store: schema, rows, and the change sequence.

SQLite (WAL, ``synchronous=FULL``) is the source of truth: every memory row
carries its embedding, so the FAISS index can always be rebuilt without the
model. Every write transaction takes the next value of a store-wide change
sequence (``meta.seq``); rows remember the sequence at which their vector last
changed (``vseq``) and deletions leave a tombstone, so any process can bring its
in-memory index up to date by reading only what changed since it last looked —
this is how a hub notices memories added by ``qira memory`` in another process.

Everything here is blocking; the store calls it from its own worker thread.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sqlite_utils

from .._sqlite import connect_readonly
from ..errors import MemoryNotFound, MemoryStoreError
from ._types import HistoryEntry, Memory, MemoryKind, Scope, memory_json

__all__ = ["Database", "Row", "text_hash"]

SCHEMA_VERSION = 1

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('seq', 0), ('schema', {SCHEMA_VERSION});
CREATE TABLE IF NOT EXISTS memories (
    vid INTEGER PRIMARY KEY AUTOINCREMENT,  -- the FAISS id; never reused
    id TEXT NOT NULL UNIQUE,
    text TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    kind TEXT NOT NULL,
    scope TEXT NOT NULL,
    device TEXT,
    importance REAL NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    expires_at REAL,
    parent TEXT,                            -- first chunk's id when a long text was split
    seq INTEGER NOT NULL,
    vseq INTEGER NOT NULL,
    embedding BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS memories_hash ON memories (text_hash);
CREATE INDEX IF NOT EXISTS memories_vseq ON memories (vseq);
CREATE INDEX IF NOT EXISTS memories_seq ON memories (seq);
CREATE INDEX IF NOT EXISTS memories_created ON memories (created_at);
CREATE INDEX IF NOT EXISTS memories_parent ON memories (parent) WHERE parent IS NOT NULL;
CREATE INDEX IF NOT EXISTS memories_expires ON memories (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS tombstones (vid INTEGER PRIMARY KEY, seq INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS tombstones_seq ON tombstones (seq);
CREATE TABLE IF NOT EXISTS history (
    hid INTEGER PRIMARY KEY AUTOINCREMENT,
    memory_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at REAL NOT NULL,
    op TEXT NOT NULL,
    actor TEXT,
    text TEXT,
    changes TEXT NOT NULL DEFAULT '{{}}'
);
CREATE INDEX IF NOT EXISTS history_memory ON history (memory_id);
CREATE VIRTUAL TABLE IF NOT EXISTS memories_fts USING fts5(
    text, content='memories', content_rowid='vid', tokenize='porter unicode61'
);
CREATE TRIGGER IF NOT EXISTS memories_ai AFTER INSERT ON memories BEGIN
    INSERT INTO memories_fts (rowid, text) VALUES (new.vid, new.text);
END;
CREATE TRIGGER IF NOT EXISTS memories_ad AFTER DELETE ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, text) VALUES ('delete', old.vid, old.text);
END;
CREATE TRIGGER IF NOT EXISTS memories_au AFTER UPDATE OF text ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, text) VALUES ('delete', old.vid, old.text);
    INSERT INTO memories_fts (rowid, text) VALUES (new.vid, new.text);
END;
"""

_COLUMNS = "vid, id, text, text_hash, kind, scope, device, importance, created_at, updated_at, expires_at, parent"
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
# Words too common to be worth a lexical lookup; rarer words are judged by document frequency.
_STOP = frozenset(
    "a an and are as at be by do did does for from had has have he her his i i'm in is it its me my of on or our"
    " she so that the their them they this to was we were what when where which who why will with you your".split()
)


def _particulars(query: str) -> list[str]:
    out = []
    for word in _TOKEN.findall(query):
        lower = word.lower()
        if any(ch.isdigit() for ch in word):
            out.append(lower)
        elif word[0].isupper() and len(word) > 1 and lower not in _STOP and lower not in _QUESTION:
            out.append(lower)
    return out


_QUESTION = frozenset(
    "am are can could did does how is should shall was were what when where which who whom whose why will would"
    " has have tell show find give remind list".split()
)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, kw_only=True)
class Row:
    """A memory plus what only the store needs (its FAISS id, its text hash)."""

    vid: int
    memory: Memory
    text_hash: str
    parent: str | None


def _row(values: Sequence[Any]) -> Row:
    vid, id_, text, hash_, kind, scope, device, importance, created, updated, expires, parent = values
    memory = Memory(
        id=id_,
        text=text,
        kind=MemoryKind(kind),
        scope=Scope(scope),
        device=device,
        importance=importance,
        created_at=created,
        updated_at=updated,
        expires_at=expires,
    )
    return Row(vid=vid, memory=memory, text_hash=hash_, parent=parent)


def _parts(items: Sequence[Any], size: int = 500) -> Iterator[list[Any]]:
    """``items`` in slices small enough to stay under SQLite's bound-variable limit."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _vectors(rows: Sequence[tuple[int, bytes]]) -> tuple[np.ndarray, np.ndarray]:
    vids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
    return vids, vectors


class Database:
    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        self.readonly = readonly
        if readonly:
            self.conn = self._open_readonly(path)
            self.db = sqlite_utils.Database(self.conn)
            return
        try:
            # The store serialises every call through one worker thread; the flag only
            # lets close() run from whichever thread shuts the store down.
            conn = sqlite3.connect(path, timeout=10.0, isolation_level=None, check_same_thread=False)
            self.db = sqlite_utils.Database(conn)
            self.db.enable_wal()
            # FULL: a commit is on disk before add() returns, so an acknowledged
            # write survives power loss as well as kill -9.
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise MemoryStoreError(f"cannot open memory database {path}: {exc}") from exc
        self.conn = conn

    @staticmethod
    def _open_readonly(path: Path) -> sqlite3.Connection:
        # Read commands on a running hub's store or a read-only copy: no schema, no
        # pragmas that write, no migration (see qira/_sqlite.py).
        try:
            return connect_readonly(path, timeout=10.0, isolation_level=None, check_same_thread=False)
        except FileNotFoundError:
            conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            conn.executescript(_SCHEMA)  # nothing stored yet: read as an empty store
            return conn
        except sqlite3.Error as exc:
            raise MemoryStoreError(f"cannot read memory database {path}: {exc}") from exc

    def close(self) -> None:
        try:
            self.conn.close()
        except sqlite3.Error as exc:
            raise MemoryStoreError(f"cannot close memory database: {exc}") from exc

    # -- transactions and the change sequence --------------------------------

    @contextmanager
    def write(self, prepare: Callable[[], object] | None = None) -> Iterator[int]:
        """One write transaction; yields the change sequence number it owns.

        ``prepare`` runs once the write lock is held, before the sequence moves:
        the store uses it to catch its index up with other processes' commits."""
        try:
            # IMMEDIATE takes the write lock up front: two processes writing at
            # once queue up instead of failing with a lock upgrade deadlock.
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise MemoryStoreError(f"memory database is busy or broken: {exc}") from exc
        try:
            if prepare is not None:
                prepare()
            (seq,) = self.conn.execute("UPDATE meta SET value = value + 1 WHERE key = 'seq' RETURNING value").fetchone()
            yield seq
        except sqlite3.Error as exc:
            self._rollback()
            raise MemoryStoreError(f"memory database write failed, nothing was written: {exc}") from exc
        except BaseException:
            self._rollback()
            raise
        try:
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise MemoryStoreError(f"cannot commit to the memory database: {exc}") from exc

    def _rollback(self) -> None:
        try:
            self.conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # the error that caused the rollback is the one worth reporting

    def seq(self) -> int:
        return self._one("SELECT value FROM meta WHERE key = 'seq'")[0]

    def count(self) -> int:
        return self._one("SELECT count(*) FROM memories")[0]

    # -- reads ---------------------------------------------------------------

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        try:
            return self.conn.execute(sql, params).fetchone()
        except sqlite3.Error as exc:
            raise MemoryStoreError(f"memory database read failed: {exc}") from exc

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        try:
            return self.conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise MemoryStoreError(f"memory database read failed: {exc}") from exc

    def get(self, memory_id: str) -> Row:
        values = self._one(f"SELECT {_COLUMNS} FROM memories WHERE id = ?", (memory_id,))
        if values is None:
            raise MemoryNotFound(f"no memory with id {memory_id!r}")
        return _row(values)

    def exists(self, memory_id: str) -> bool:
        return self._one("SELECT 1 FROM memories WHERE id = ?", (memory_id,)) is not None

    def children(self, memory_id: str) -> list[Row]:
        """The other chunks of a text that was split, whose first chunk is ``memory_id``."""
        return [_row(v) for v in self._all(f"SELECT {_COLUMNS} FROM memories WHERE parent = ?", (memory_id,))]

    @staticmethod
    def export_record(row: Row) -> dict[str, Any]:
        return {**memory_json(row.memory), "parent": row.parent}

    def by_vids(self, vids: Iterable[int]) -> dict[int, Row]:
        out: dict[int, Row] = {}
        for part in _parts(list(vids)):
            marks = ",".join("?" * len(part))
            for values in self._all(f"SELECT {_COLUMNS} FROM memories WHERE vid IN ({marks})", part):
                row = _row(values)
                out[row.vid] = row
        return out

    def by_hash(self, hashes: Iterable[str]) -> list[tuple[Row, np.ndarray]]:
        hashes = list(set(hashes))
        if not hashes:
            return []
        marks = ",".join("?" * len(hashes))
        rows = self._all(f"SELECT {_COLUMNS}, embedding FROM memories WHERE text_hash IN ({marks})", hashes)
        return [(_row(r[:-1]), np.frombuffer(r[-1], dtype=np.float32)) for r in rows]

    def embeddings(self, vids: Sequence[int]) -> dict[int, np.ndarray]:
        out: dict[int, np.ndarray] = {}
        for part in _parts(vids):
            marks = ",".join("?" * len(part))
            for vid, blob in self._all(f"SELECT vid, embedding FROM memories WHERE vid IN ({marks})", part):
                out[vid] = np.frombuffer(blob, dtype=np.float32)
        return out

    def iter_vectors(self, *, since_vseq: int = 0, batch: int = 20_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(vids, vectors) in batches: every vector, or those changed after ``since_vseq``."""
        if since_vseq > 0:
            # Catching up: few rows, found through the vseq index (a rowid walk would read every vector).
            rows = self._all(
                "SELECT vid, embedding FROM memories INDEXED BY memories_vseq WHERE vseq > ?", (since_vseq,)
            )
            for start in range(0, len(rows), batch):
                yield _vectors(rows[start : start + batch])
            return
        last = 0
        while True:
            rows = self._all("SELECT vid, embedding FROM memories WHERE vid > ? ORDER BY vid LIMIT ?", (last, batch))
            if not rows:
                return
            yield _vectors(rows)
            last = rows[-1][0]

    def meta_rows(self, *, since_seq: int) -> list[tuple]:
        """What the search mirror keeps, for rows changed after ``since_seq``."""
        return self._all(
            "SELECT vid, kind, scope, device, importance, created_at, updated_at, expires_at FROM memories"
            " WHERE seq > ?",
            (since_seq,),
        )

    def tombstones_since(self, seq: int) -> list[int]:
        return [r[0] for r in self._all("SELECT vid FROM tombstones WHERE seq > ?", (seq,))]

    def list(self, where: str, params: Sequence[Any], *, limit: int, offset: int) -> list[Memory]:
        sql = f"SELECT {_COLUMNS} FROM memories WHERE {where} ORDER BY created_at DESC, vid DESC LIMIT ? OFFSET ?"
        return [_row(v).memory for v in self._all(sql, [*params, limit, offset])]

    def iter_all(self) -> Iterator[Row]:
        last = 0
        while True:
            rows = self._all(f"SELECT {_COLUMNS} FROM memories WHERE vid > ? ORDER BY vid LIMIT 1000", (last,))
            if not rows:
                return
            for values in rows:
                yield _row(values)
            last = rows[-1][0]

    def rare_terms(self, query: str, *, max_docs: int) -> builtins.list[str]:
        """The query's particulars that few memories contain: names, numbers, codes, dates.

        These are what sentence embeddings blur ("4417" and "4471" embed alike) and what
        lexical matching gets exactly right; ordinary words are left to the embedding,
        which handles paraphrase better (measured on bench/data/persona.json). Words in
        more than ``max_docs`` memories are dropped too; counting stops at
        ``max_docs + 1`` so the check stays cheap on a million memories."""
        terms: builtins.list[str] = []
        for word in dict.fromkeys(_particulars(query)):
            quoted = '"' + word.replace('"', '""') + '"'
            (df,) = self._one(
                "SELECT count(*) FROM (SELECT 1 FROM memories_fts WHERE memories_fts MATCH ? LIMIT ?)",
                (quoted, max_docs + 1),
            )
            if 0 < df <= max_docs:
                terms.append(quoted)
        return terms

    def lexical(self, terms: Sequence[str], *, limit: int) -> builtins.list[tuple[int, float]]:
        """(vid, bm25 strength > 0) for memories matching any of ``terms``, strongest first."""
        if not terms:
            return []
        rows = self._all(
            "SELECT rowid, -bm25(memories_fts) FROM memories_fts WHERE memories_fts MATCH ? ORDER BY rank LIMIT ?",
            (" OR ".join(terms), limit),
        )
        return [(vid, float(score)) for vid, score in rows]

    def history(self, memory_id: str) -> builtins.list[HistoryEntry]:
        rows = self._all(
            "SELECT memory_id, seq, at, op, actor, text, changes FROM history WHERE memory_id = ? ORDER BY hid",
            (memory_id,),
        )
        return [
            HistoryEntry(memory_id=m, seq=s, at=at, op=op, actor=actor, text=text, changes=json.loads(changes))
            for m, s, at, op, actor, text, changes in rows
        ]

    # -- writes (inside ``write()``) -------------------------------------------

    def insert(self, *, memory: Memory, hash_: str, parent: str | None, seq: int, vector: np.ndarray) -> int:
        m = memory
        cur = self.conn.execute(
            "INSERT INTO memories (id, text, text_hash, kind, scope, device, importance, created_at, updated_at,"
            " expires_at, parent, seq, vseq, embedding) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                m.id,
                m.text,
                hash_,
                m.kind.value,
                m.scope.value,
                m.device,
                m.importance,
                m.created_at,
                m.updated_at,
                m.expires_at,
                parent,
                seq,
                seq,
                np.ascontiguousarray(vector, dtype=np.float32).tobytes(),
            ),
        )
        assert cur.lastrowid is not None  # an INSERT always sets it
        return cur.lastrowid

    def update(self, vid: int, *, seq: int, memory: Memory, hash_: str, vector: np.ndarray | None) -> None:
        m = memory
        params: builtins.list[Any] = [
            m.text,
            hash_,
            m.kind.value,
            m.scope.value,
            m.importance,
            m.updated_at,
            m.expires_at,
            seq,
        ]
        extra = ""
        if vector is not None:
            extra = ", vseq = ?, embedding = ?"
            params += [seq, np.ascontiguousarray(vector, dtype=np.float32).tobytes()]
        self.conn.execute(
            "UPDATE memories SET text = ?, text_hash = ?, kind = ?, scope = ?, importance = ?, updated_at = ?,"
            f" expires_at = ?, seq = ?{extra} WHERE vid = ?",
            [*params, vid],
        )

    def delete(self, vids: Sequence[int], *, seq: int) -> None:
        for part in _parts(vids):
            marks = ",".join("?" * len(part))
            self.conn.execute(f"DELETE FROM memories WHERE vid IN ({marks})", part)
            self.conn.executemany(
                "INSERT OR REPLACE INTO tombstones (vid, seq) VALUES (?, ?)", [(v, seq) for v in part]
            )

    def forget(self, rows: Sequence[Row], *, seq: int, op: str, actor: str | None) -> None:
        """Delete ``rows`` and scrub their texts from history, recording ``op`` for each."""
        self.delete([r.vid for r in rows], seq=seq)
        for r in rows:
            self.scrub_history(r.memory.id)
            self.record(r.memory.id, seq=seq, op=op, actor=actor, text=None)

    def record(
        self,
        memory_id: str,
        *,
        seq: int,
        op: str,
        actor: str | None,
        text: str | None,
        changes: dict[str, Any] | None = None,
        at: float | None = None,
    ) -> None:
        self.conn.execute(
            "INSERT INTO history (memory_id, seq, at, op, actor, text, changes) VALUES (?,?,?,?,?,?,?)",
            (memory_id, seq, time.time() if at is None else at, op, actor, text, json.dumps(changes or {})),
        )

    def scrub_history(self, memory_id: str) -> None:
        """Forgotten means forgotten: earlier versions of the text leave the history too."""
        self.conn.execute("UPDATE history SET text = NULL, changes = '{}' WHERE memory_id = ?", (memory_id,))

    def expired(self, now: float) -> builtins.list[Row]:
        rows = self._all(f"SELECT {_COLUMNS} FROM memories WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,))
        return [_row(v) for v in rows]
