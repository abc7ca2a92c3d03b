"""The hub's copies of the shared CRDT documents, persisted as Yjs updates in sync.db.

Every change to a hub document — one a device sent, or one hub code made under
:meth:`HubDocs.edit` — is appended to ``doc_updates`` and handed to ``fanout``
to relay to the subscribed devices.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

from pycrdt import Doc, TransactionEvent

from ._store import Writer
from ._wire import DOC_NAMES

__all__ = ["EMPTY_UPDATE", "CorruptUpdate", "HubDocs", "apply_update_safely", "get_update_safely"]

log = logging.getLogger("qira.sync.docs")

EMPTY_UPDATE = b"\x00\x00"
_SAVE_DELAY_S = 0.005
_COMPACT_EVERY = 2000  # updates per document before they are merged into one row

_T = TypeVar("_T")


class CorruptUpdate(ValueError):
    pass


def _engine(what: str, call: Callable[[], _T]) -> _T:
    """Run a CRDT engine call; its complaints (including Rust panics) become CorruptUpdate."""
    try:
        return call()
    except (KeyboardInterrupt, SystemExit, asyncio.CancelledError):
        raise
    except BaseException as exc:  # pyo3 panics derive from BaseException, not Exception
        raise CorruptUpdate(f"the CRDT engine rejected the {what}: {exc}") from exc


def apply_update_safely(doc: Doc, update: bytes) -> None:
    _engine("update", lambda: doc.apply_update(update))


def get_update_safely(doc: Doc, state_vector: bytes) -> bytes:
    return _engine("state vector", lambda: doc.get_update(state_vector))


Fanout = Callable[[str, bytes, object], None]  # (doc, update, origin connection or None)


class HubDocs:
    def __init__(self, writer: Writer, fanout: Fanout) -> None:
        self._writer = writer
        self._fanout = fanout
        self.docs: dict[str, Doc] = {}
        self._counts: dict[str, int] = {}
        self._captured: list[tuple[str, bytes]] | None = None
        self._unsaved: list[tuple[str, bytes]] = []
        self._compacting: set[str] = set()
        self._unpublished: dict[str, int] = {}
        self._remote: object | None = None  # the connection whose update is being applied
        self._subs: list[Any] = []

    def load(self, rows: list[tuple[int, str, bytes]]) -> None:
        per_doc: dict[str, list[bytes]] = {}
        for _id, name, data in rows:
            per_doc.setdefault(name, []).append(data)
        for name in sorted(DOC_NAMES):
            doc: Doc = Doc()
            updates = per_doc.get(name, [])
            for data in updates:
                try:
                    apply_update_safely(doc, data)
                except CorruptUpdate:
                    log.warning("skipping an unreadable stored update for %s", name)
            self.docs[name] = doc
            self._counts[name] = len(updates)
            self._subs.append(doc.observe(lambda event, name=name: self._changed(name, event)))

    def _changed(self, name: str, event: TransactionEvent) -> None:
        update = event.update
        if update == EMPTY_UPDATE:
            return
        if self._captured is not None:
            self._captured.append((name, update))  # persisted and published by the capturer
            return
        self._fanout(name, update, self._remote)
        self._persist(name, update)

    def _persist(self, name: str, update: bytes) -> None:
        # Saved a few milliseconds later, off the hot path: the fan-out sends go first,
        # and a burst of updates becomes one insert. Nothing is at risk meanwhile: the
        # device that sent the update keeps it and re-sends it in the next state exchange.
        if not self._unsaved:
            asyncio.get_running_loop().call_later(_SAVE_DELAY_S, self.flush)
        self._unsaved.append((name, update))
        self._bump(name)

    def _bump(self, name: str) -> None:
        self._counts[name] += 1
        if self._counts[name] >= _COMPACT_EVERY and name not in self._compacting:
            # Later, not now: this may run inside the document's transaction, where it cannot be read.
            self._compacting.add(name)
            asyncio.get_running_loop().call_soon(self._compact, name)

    def flush(self) -> None:
        if self._unsaved:
            rows, self._unsaved = self._unsaved, []
            self._writer.submit_nowait(lambda c: self.insert(c, rows))

    def _compact(self, name: str) -> None:
        if self.unpublished(name):  # a snapshot now would put an uncommitted effect on disk
            asyncio.get_running_loop().call_later(0.05, self._compact, name)
            return
        self._compacting.discard(name)
        self.flush()
        merged = self.docs[name].get_update()
        self._counts[name] = 1

        def job(c: Any) -> None:
            c.execute("DELETE FROM doc_updates WHERE doc = ?", (name,))
            c.execute("INSERT INTO doc_updates (doc, data) VALUES (?, ?)", (name, merged))

        self._writer.submit_nowait(job)

    @contextlib.contextmanager
    def capture(self) -> Iterator[list[tuple[str, bytes]]]:
        """Collect the updates made inside the (synchronous) block instead of persisting and
        relaying them: the caller commits them in the same transaction as an operation's
        result, then calls :meth:`publish`. Devices never see an effect the hub could lose."""
        captured: list[tuple[str, bytes]] = []
        self._captured = captured
        try:
            yield captured
        finally:
            self._captured = None
            for name, _update in captured:
                self._unpublished[name] = self._unpublished.get(name, 0) + 1

    def unpublished(self, name: str) -> bool:
        """Whether ``name`` holds captured changes not yet committed: a state exchange must
        wait for them, or a device could receive an effect the hub might still lose."""
        return self._unpublished.get(name, 0) > 0

    @staticmethod
    def insert(conn: Any, updates: list[tuple[str, bytes]]) -> None:
        conn.executemany("INSERT INTO doc_updates (doc, data) VALUES (?, ?)", updates)

    def publish(self, updates: list[tuple[str, bytes]], *, committed: bool = True) -> None:
        for name, update in updates:
            self._unpublished[name] -= 1
            if committed:
                self._bump(name)
                self._fanout(name, update, None)

    def apply_remote(self, name: str, update: bytes, origin: object) -> None:
        """Apply a device's update; the observer persists it and relays it to everyone but ``origin``."""
        if update == EMPTY_UPDATE:
            return
        self._remote = origin
        try:
            apply_update_safely(self.docs[name], update)
        finally:
            self._remote = None

    @contextlib.asynccontextmanager
    async def edit(self, name: str) -> AsyncIterator[Doc]:
        if name not in self.docs:
            raise KeyError(f"no shared document named {name!r} (have {sorted(self.docs)})")
        # No transaction is held across the caller's awaits (a device update may land
        # meanwhile); group changes with ``with doc.transaction():`` inside, without awaiting.
        yield self.docs[name]
        self.flush()
        await self._writer.barrier()  # the edit is durable once the block has exited

    def compact_all(self) -> None:
        for name, count in self._counts.items():
            if count > 1:
                self._compact(name)
