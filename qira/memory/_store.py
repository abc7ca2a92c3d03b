"""``MemoryStore``: the async face of the memory (SQLite truth, FAISS index, MiniLM vectors).

All SQLite and FAISS work runs on one worker thread owned by the store, so the
two never disagree inside a process and the event loop never blocks. Adds go
through a two-stage pipeline: concurrent ``add()`` calls are gathered into one
embedding batch (the model is far faster per text in batches) while the
previous batch is written in one transaction; ``add()`` returns only after its
transaction has committed, so an acknowledged memory survives ``kill -9``.
"""

from __future__ import annotations

import asyncio
import builtins
import functools
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from .._daemon import DaemonExecutor
from ..config import MemoryConfig
from ..errors import InvalidMemory, MemoryNotFound, MemoryStoreError, QiraError
from . import _text as check
from ._db import Database, text_hash
from ._embedder import Embedder
from ._index import VectorIndex
from ._mirror import KIND_CODES, Mirror
from ._scoring import score
from ._types import AddResult, HistoryEntry, Memory, MemoryKind, Scope, SearchHit
from ._writer import AddRequest, BatchWriter

__all__ = ["CONTEXT_KINDS", "MemoryStore"]

log = logging.getLogger("qira.memory")
T = TypeVar("T")

# Context event kinds a device may report, how each reads as a memory, and its
# default scope: where the person is and who is with them stay on the hub.
CONTEXT_KINDS: Mapping[str, tuple[str, Scope]] = {
    "place": ("I am at {value}", Scope.PRIVATE),
    "activity": ("I am {value}", Scope.SHARED),
    "focus": ("The app in focus is {value}", Scope.SHARED),
    "battery": ("Device battery is at {value}", Scope.DEVICE),
    "nearby": ("Nearby: {value}", Scope.PRIVATE),
}
_CACHE_SIZE = 10_000


class MemoryStore:
    def __init__(self, directory: Path, config: MemoryConfig, embedder: Embedder, *, readonly: bool = False) -> None:
        self.directory = Path(directory)
        # readonly: for read commands from another process or on a read-only copy. Nothing
        # is created, purged or saved; the index is rebuilt in memory if it is stale.
        self.readonly = readonly
        self.config = config
        self.embedder = embedder
        self._db: Database | None = None
        self._index = VectorIndex(self.directory, dim=embedder.dim, exact_max=config.exact_index_max)
        self._mirror = Mirror()
        self._executor: ThreadPoolExecutor | None = None
        self._ready: asyncio.Future[None] | None = None
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()  # text hash -> unit vector
        self._queue: asyncio.Queue[AddRequest | None] = asyncio.Queue()
        self._stage: asyncio.Queue[list[AddRequest] | None] = asyncio.Queue(maxsize=2)
        self._workers: list[asyncio.Task[None]] = []
        self._closing = False
        self.index_status = "closed"  # what happened to the index at open: loaded / rebuilt / ...

    # -- lifecycle -------------------------------------------------------------------

    async def open(self) -> None:
        """Open SQLite (quick); load or rebuild the FAISS index in the background.

        Operations wait for the index; :meth:`wait_ready` does so explicitly."""
        if self._db is not None:
            return
        try:
            if not self.readonly:
                self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MemoryStoreError(f"cannot create memory directory {self.directory}: {exc.strerror or exc}") from exc
        # Daemon worker: a hub stopped while the index still loads exits without waiting for it.
        self._executor = DaemonExecutor(max_workers=1, thread_name_prefix="qira-memory")
        self._db = await self._run(functools.partial(Database, readonly=self.readonly), self.directory / "memory.db")
        loop = asyncio.get_running_loop()
        self._ready = loop.create_future()
        self.index_status = "opening"
        self._workers = [
            loop.create_task(self._load_index()),
            loop.create_task(self._embed_loop()),
            loop.create_task(self._write_loop()),
        ]

    async def _load_index(self) -> None:
        assert self._ready is not None
        try:
            self.index_status = await self._run(self._index.open, self._db)
            await self._run(self._mirror.load, self._db)
            if not self.readonly:
                await self._run(self._purge_expired)
        except Exception as exc:  # surfaced to every caller through _ready
            self.index_status = f"error: {exc}"
            self._ready.set_exception(exc if isinstance(exc, QiraError) else MemoryStoreError(str(exc)))
            return
        self._ready.set_result(None)

    async def wait_ready(self) -> None:
        if self._ready is None:
            raise MemoryStoreError("the memory store is not open")
        await asyncio.shield(self._ready)

    @property
    def ready(self) -> bool:
        return self._ready is not None and self._ready.done() and self._ready.exception() is None

    async def close(self) -> None:
        """Finish queued adds, save the index, close SQLite."""
        if self._db is None or self._closing:
            return
        self._closing = True
        await self._queue.put(None)
        for task in self._workers[1:]:
            await task
        if not self._workers[0].done():
            self._workers[0].cancel()
        if self.ready and not self.readonly:
            await self._run(self._index.save)
        db, self._db = self._db, None
        await self._run(db.close)
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
        self.index_status = "closed"
        self._closing = False

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            raise MemoryStoreError("the memory store is not open")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    @property
    def _opened(self) -> Database:
        """The database, for work on the store's thread between open() and close()."""
        if self._db is None:
            raise MemoryStoreError("the memory store is closed")
        return self._db

    async def _open_db(self) -> Database:
        if self._closing or self._db is None:
            raise MemoryStoreError("the memory store is closed")
        await self.wait_ready()
        if self._closing or self._db is None:
            raise MemoryStoreError("the memory store is closed")
        return self._db

    # -- add -------------------------------------------------------------------------

    async def add(
        self,
        text: str,
        *,
        kind: MemoryKind | str = MemoryKind.FACT,
        scope: Scope | str = Scope.SHARED,
        device: str | None = None,
        importance: float = 0.5,
        expires_at: float | None = None,
        actor: str | None = None,
    ) -> AddResult:
        """Remember ``text``. A near-duplicate updates the existing memory instead.

        Text over ``max_text_chars`` is split into chunks, stored together in one
        transaction (all or nothing) and reported in ``chunks`` and ``note``."""
        text = check.check_text(text)
        kind, scope = check.check_kind(kind), check.check_scope(scope)
        device, importance = check.check_device(device), check.check_importance(importance)
        expires_at = check.check_expiry(expires_at)
        if scope is Scope.DEVICE and device is None:
            raise InvalidMemory("a device-scope memory needs the device it belongs to")
        texts = check.split_text(text, self.config.max_text_chars)
        note = None
        if len(texts) > 1:
            note = (
                f"text is {len(text)} characters, over the {self.config.max_text_chars}-character limit:"
                f" stored as {len(texts)} chunks, each found by search on its own"
            )
        await self._open_db()
        future: asyncio.Future[AddResult] = asyncio.get_running_loop().create_future()
        await self._queue.put(
            AddRequest(
                texts=texts,
                hashes=[text_hash(t) for t in texts],
                kind=kind,
                scope=scope,
                device=device,
                importance=importance,
                expires_at=expires_at,
                actor=actor,
                note=note,
                future=future,
            )
        )
        return await future

    async def add_context(
        self, kind: str, value: str, *, device: str | None, scope: Scope | str | None = None, importance: float = 0.3
    ) -> AddResult:
        """A context event from a device becomes a ``context`` memory that decays.

        ``kind`` is one of :data:`CONTEXT_KINDS`; repeating the same event refreshes it."""
        if kind not in CONTEXT_KINDS:
            raise InvalidMemory(f"unknown context kind {kind!r}: expected one of {', '.join(CONTEXT_KINDS)}")
        value = check.check_text(value, what="context value")
        if len(value) > 200:
            raise InvalidMemory(f"context value is {len(value)} characters; at most 200")
        template, default_scope = CONTEXT_KINDS[kind]
        chosen = default_scope if scope is None else check.check_scope(scope)
        if chosen is Scope.DEVICE and device is None:
            chosen = Scope.SHARED  # a hub-side event has no device to belong to
        # Gone after eight half-lives (about 0.4% of its weight): long enough to answer
        # "where was I this morning", short enough not to pile up.
        expires = time.time() + 8 * 3600 * self.config.context_half_life_hours
        return await self.add(
            template.format(value=value),
            kind=MemoryKind.CONTEXT,
            scope=chosen,
            device=device,
            importance=importance,
            expires_at=expires,
            actor=device,
        )

    async def _embed_loop(self) -> None:
        """Stage one: gather queued adds into one batch and embed the texts not cached."""
        limit = 8 * self.embedder.batch_size  # texts per model call when adds pile up
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                break
            batch, count = [first], len(first.texts)
            while count < limit and not self._queue.empty():
                nxt = self._queue.get_nowait()
                if nxt is None:
                    stopping = True
                    break
                batch.append(nxt)
                count += len(nxt.texts)
            try:
                vectors = await self._vectors([t for r in batch for t in r.texts], [h for r in batch for h in r.hashes])
            except Exception as exc:
                _fail(batch, exc)
                continue
            at = 0
            for request in batch:
                request.vectors = list(vectors[at : at + len(request.texts)])
                at += len(request.texts)
            await self._stage.put(batch)
        await self._stage.put(None)

    async def _write_loop(self) -> None:
        """Stage two: write a batch in one transaction, then acknowledge each add."""
        while (batch := await self._stage.get()) is not None:
            try:
                results = await self._run(self._apply, batch)
            except Exception as exc:
                _fail(batch, exc)
                continue
            for request, result in zip(batch, results, strict=True):
                if not request.future.done():
                    request.future.set_result(result)

    async def _vectors(self, texts: list[str], hashes: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.embedder.dim), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        for i, h in enumerate(hashes):
            cached = self._cache.get(h)
            if cached is not None:
                out[i] = cached
                self._cache.move_to_end(h)
            else:
                missing.setdefault(h, []).append(i)
        if missing:
            firsts = [positions[0] for positions in missing.values()]
            vectors = await self.embedder.embed([texts[i] for i in firsts])
            for (h, positions), vector in zip(missing.items(), vectors, strict=True):
                out[positions] = vector
                self._remember_vector(h, vector)
        return out

    def _remember_vector(self, h: str, vector: np.ndarray) -> None:
        self._cache[h] = vector
        self._cache.move_to_end(h)
        while len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)

    def _apply(self, batch: list[AddRequest]) -> list[AddResult]:
        results = BatchWriter(self._opened, self._index, self.config).apply(batch)
        self._maybe_rebuild()
        return results

    def _maybe_rebuild(self) -> None:
        if self._index.needs_rebuild():
            log.info("memory index outgrew its kind (%s, %d vectors): rebuilding", self._index.kind, self._index.size)
            self._index.rebuild(self._opened)

    # -- search ----------------------------------------------------------------------

    async def search(
        self,
        query: str,
        *,
        k: int = 5,
        kinds: Iterable[MemoryKind | str] | None = None,
        scopes: Iterable[Scope | str] | None = None,
        device: str | None = None,
        since: float | None = None,
        until: float | None = None,
        visible_to: str | None = None,
        embedding: np.ndarray | None = None,
    ) -> list[SearchHit]:
        """The ``k`` memories that best answer ``query``, best first, each with its scope and why.

        ``visible_to`` (a device id) hides private memories and other devices' device-scope
        ones: the wire handlers pass it. ``embedding`` skips embedding the query."""
        query = check.check_text(query, what="query")
        k = check.check_count(k, what="k", low=1, high=1000)
        filters = check.check_filters(
            kinds=kinds, scopes=scopes, device=device, since=since, until=until, visible_to=visible_to
        )
        if embedding is None:
            embedding = (await self._vectors([query], [text_hash(query)]))[0]
        await self._open_db()
        return await self._run(self._search, query, np.asarray(embedding, dtype=np.float32), k, filters)

    def _search(self, query: str, vector: np.ndarray, k: int, filters: dict[str, Any]) -> list[SearchHit]:
        db, index, mirror = self._opened, self._index, self._mirror
        index.catch_up(db)  # another process (the CLI, say) may have written since we looked
        mirror.catch_up(db)
        if index.size == 0:
            return []
        now = time.time()
        want = max(20, 4 * k)  # the rerank pool: blending only reorders near neighbours
        n = want
        while True:
            sims, vids = index.search(vector[None, :], n)
            sims, vids = sims[0], vids[0]
            found = vids >= 0
            ok = found & mirror.mask(np.where(found, vids, 0), now=now, **filters)
            if ok.sum() >= want or n >= index.size or found.sum() < n:
                break
            n *= 4  # a narrow filter: look further down the ranking
        vids, sims = vids[ok], sims[ok].astype(np.float64)
        terms = db.rare_terms(query, max_docs=max(25, min(1000, index.size // 20)))
        lexical = dict(db.lexical(terms, limit=20))
        lex = np.zeros(len(vids))
        if lexical:
            seen = set(vids.tolist())
            extra = np.array([v for v in lexical if v not in seen], dtype=np.int64)
            extra = extra[mirror.mask(extra, now=now, **filters)] if len(extra) else extra
            if len(extra):
                vectors = db.embeddings(extra.tolist())
                extra = np.array([v for v in extra if v in vectors], dtype=np.int64)
                vids = np.concatenate([vids, extra])
                sims = np.concatenate([sims, [float(vectors[v] @ vector) for v in extra]])
            strongest = max(lexical.values())
            lex = np.array([lexical.get(int(v), 0.0) / strongest for v in vids])
        if not len(vids):
            return []
        scores = score(
            similarity=sims,
            lexical=lex,
            importance=mirror.importance[vids],
            updated=mirror.updated[vids],
            is_context=mirror.kind[vids] == KIND_CODES[MemoryKind.CONTEXT],
            now=now,
            context_half_life_hours=self.config.context_half_life_hours,
        )
        order = np.lexsort((-mirror.updated[vids], -scores.total))[:k]
        rows = db.by_vids(int(vids[i]) for i in order)
        return [
            SearchHit(
                memory=rows[int(vids[i])].memory,
                score=round(float(scores.total[i]), 6),
                explanation=scores.explain(i, terms),
            )
            for i in order
            if int(vids[i]) in rows
        ]  # a row another process deleted just now is skipped

    # -- get, update, forget, list, history ---------------------------------------------

    async def get(self, memory_id: str) -> Memory:
        db = await self._open_db()
        return (await self._run(db.get, check.check_id(memory_id))).memory

    async def update(
        self,
        memory_id: str,
        *,
        text: str | None = None,
        kind: MemoryKind | str | None = None,
        scope: Scope | str | None = None,
        importance: float | None = None,
        actor: str | None = None,
    ) -> Memory:
        memory_id = check.check_id(memory_id)
        if text is not None:
            text = check.check_text(text)
            if len(text) > self.config.max_text_chars:
                raise InvalidMemory(
                    f"text is {len(text)} characters; an update may hold at most "
                    f"{self.config.max_text_chars} (add it as a new memory to have it split)"
                )
        kind = None if kind is None else check.check_kind(kind)
        scope = None if scope is None else check.check_scope(scope)
        importance = None if importance is None else check.check_importance(importance)
        vector = None if text is None else (await self._vectors([text], [text_hash(text)]))[0]
        await self._open_db()
        return await self._run(self._update, memory_id, text, kind, scope, importance, actor, vector)

    def _update(
        self,
        memory_id: str,
        text: str | None,
        kind: MemoryKind | None,
        scope: Scope | None,
        importance: float | None,
        actor: str | None,
        vector: np.ndarray | None,
    ) -> Memory:
        db = self._opened
        with db.write(prepare=lambda: self._index.catch_up(db)) as seq:
            row = db.get(memory_id)
            m, now = row.memory, time.time()
            if scope is Scope.DEVICE and m.device is None:
                raise InvalidMemory(f"memory {memory_id} has no source device, so it cannot be device-scope")
            new = replace(
                m,
                text=text or m.text,
                kind=kind or m.kind,
                scope=scope or m.scope,
                importance=m.importance if importance is None else importance,
            )
            changes = {
                name: [_plain(getattr(m, name)), _plain(getattr(new, name))]
                for name in ("text", "kind", "scope", "importance")
                if getattr(m, name) != getattr(new, name)
            }
            if not changes:
                return m
            new = replace(new, updated_at=now)
            index_vector = vector if "text" in changes else None
            db.update(row.vid, seq=seq, memory=new, hash_=text_hash(new.text), vector=index_vector)
            db.record(m.id, seq=seq, op="update", actor=actor, text=new.text, changes=changes, at=now)
        self._index.add_written({} if index_vector is None else {row.vid: index_vector}, seq=seq)
        return new

    async def forget(self, memory_id: str, *, actor: str | None = None) -> None:
        """Gone for good: the row, its vector, its cached embedding, its old texts in history.

        Forgetting the first chunk of a split text forgets every chunk."""
        memory_id = check.check_id(memory_id)
        await self._open_db()
        hashes = await self._run(self._forget, memory_id, actor)
        for h in hashes:
            self._cache.pop(h, None)

    def _forget(self, memory_id: str, actor: str | None) -> list[str]:
        db = self._opened
        with db.write(prepare=lambda: self._index.catch_up(db)) as seq:
            row = db.get(memory_id)
            rows = [row, *db.children(memory_id)]
            db.forget(rows, seq=seq, op="forget", actor=actor)
        self._index.remove([r.vid for r in rows], seq=seq)
        return [r.text_hash for r in rows]

    def _purge_expired(self) -> int:
        db = self._opened
        expired = db.expired(time.time())
        if not expired:
            return 0
        with db.write(prepare=lambda: self._index.catch_up(db)) as seq:
            db.forget(expired, seq=seq, op="expire", actor="hub")
        self._index.remove([r.vid for r in expired], seq=seq)
        return len(expired)

    async def purge_expired(self) -> int:
        """Delete memories past their expiry (search already hides them). Returns how many."""
        await self._open_db()
        return await self._run(self._purge_expired)

    async def list(
        self,
        *,
        kind: MemoryKind | str | None = None,
        scope: Scope | str | None = None,
        device: str | None = None,
        limit: int = 100,
        offset: int = 0,
        visible_to: str | None = None,
    ) -> list[Memory]:
        """Newest first."""
        limit = check.check_count(limit, what="limit", low=1, high=10_000)
        offset = check.check_count(offset, what="offset", low=0, high=2**62)
        where, params = check.sql_filters(
            **check.check_filters(
                kinds=None if kind is None else [kind],
                scopes=None if scope is None else [scope],
                device=device,
                visible_to=visible_to,
            )
        )
        db = await self._open_db()
        return await self._run(lambda: db.list(where, params, limit=limit, offset=offset))

    async def history(self, memory_id: str) -> builtins.list[HistoryEntry]:
        """Every change to a memory, oldest first, with who made it (kept after forget, without the text)."""
        memory_id = check.check_id(memory_id)
        db = await self._open_db()
        entries = await self._run(db.history, memory_id)
        if not entries:
            raise MemoryNotFound(f"no memory with id {memory_id!r} (and none ever was)")
        return entries

    async def count(self) -> int:
        db = await self._open_db()
        return await self._run(db.count)

    # -- export / import ---------------------------------------------------------------

    async def export(self) -> builtins.list[dict[str, Any]]:
        """Every memory as a plain dict (one JSON line each in ``qira memory export``)."""
        db = await self._open_db()
        return await self._run(lambda: [db.export_record(row) for row in db.iter_all()])

    async def import_records(self, records: Iterable[Mapping[str, Any]], *, actor: str | None = None) -> dict[str, int]:
        """Restore exported memories as they were (ids, timestamps); ids already present are skipped.

        Every record is checked before anything is written; then all go in one transaction."""
        memories = [
            (check.record_memory(r, n, self.config.max_text_chars), r.get("parent")) for n, r in enumerate(records, 1)
        ]
        if not memories:
            return {"imported": 0, "skipped": 0}
        vectors = await self._vectors([m.text for m, _ in memories], [text_hash(m.text) for m, _ in memories])
        await self._open_db()
        return await self._run(self._import, memories, vectors, actor)

    def _import(
        self, memories: builtins.list[tuple[Memory, str | None]], vectors: np.ndarray, actor: str | None
    ) -> dict[str, int]:
        db = self._opened
        fresh: dict[int, np.ndarray] = {}
        skipped = 0
        with db.write(prepare=lambda: self._index.catch_up(db)) as seq:
            for (memory, parent), vector in zip(memories, vectors, strict=True):
                if db.exists(memory.id):
                    skipped += 1
                    continue
                vid = db.insert(memory=memory, hash_=text_hash(memory.text), parent=parent, seq=seq, vector=vector)
                db.record(memory.id, seq=seq, op="import", actor=actor, text=memory.text)
                fresh[vid] = vector
        self._index.add_written(fresh, seq=seq)
        self._maybe_rebuild()
        return {"imported": len(fresh), "skipped": skipped}


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, (MemoryKind, Scope)) else value


def _fail(batch: list[AddRequest], exc: Exception) -> None:
    error = exc if isinstance(exc, QiraError) else MemoryStoreError(f"{type(exc).__name__}: {exc}")
    for request in batch:
        if not request.future.done():
            request.future.set_exception(error)
