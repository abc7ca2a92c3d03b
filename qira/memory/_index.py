"""The FAISS side of the memory store: a derived, disposable index over SQLite's vectors.

Exact inner-product search (``IndexFlatIP``) while the store is small — it is
both exact and fast below ~50k vectors — and an inverted-file index
(``IndexIVFFlat``) once it is large, chosen from the row count at build time.
IVF rather than HNSW because forgetting must really remove a vector, and IVF
supports ``remove_ids`` while HNSW does not.

The index is saved next to the database with the change sequence it reflects
(``index.json``); on open it is loaded and brought up to date from SQLite, or
rebuilt when it is missing, unreadable, or disagrees with SQLite's row count.
Blocking; called from the store's worker thread.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MemoryStoreError
from ._db import Database

__all__ = ["VectorIndex"]

log = logging.getLogger("qira.memory.index")

INDEX_FILE = "index.faiss"

META_FILE = "index.json"


@functools.cache
def _faiss() -> Any:
    """faiss, imported on first use: the import costs a few hundred ms that the hub's
    start-up (health within 1.5 s) should not pay; the index loads in the background."""
    import faiss

    # One query at a time is searched far faster on one thread: OpenMP's thread
    # start-up and spinning cost more than the scan itself (20 ms instead of 1 ms
    # on a busy two-core machine). Only bulk work (rebuilds) uses every core.
    faiss.omp_set_num_threads(1)
    return faiss


@dataclass(frozen=True, kw_only=True)
class IndexInfo:
    kind: str  # "flat" | "ivf"
    seq: int  # the change sequence the index reflects
    size: int
    nlist: int = 0
    trained_on: int = 0  # rows when the IVF centroids were trained


class VectorIndex:
    def __init__(self, directory: Path, *, dim: int, exact_max: int) -> None:
        self.directory = directory
        self.dim = dim
        self.exact_max = exact_max
        # Any: faiss's stubs describe the raw SWIG signatures, not the numpy wrappers faiss installs
        self.index: Any = None
        self.kind = "flat"
        self.seq = 0  # the change sequence this index reflects
        self.nlist = 0
        self.trained_on = 0
        self.saved_seq = -1

    @property
    def size(self) -> int:
        return 0 if self.index is None else int(self.index.ntotal)

    # -- build, load, save ---------------------------------------------------------

    def open(self, db: Database) -> str:
        """Load the saved index and catch it up, or rebuild it. Returns what happened."""
        how = self._load()
        if how is None:
            self.rebuild(db)
            return "rebuilt"
        self.catch_up(db)
        if self.size != db.count():
            log.warning("memory index disagrees with SQLite (%d vs %d vectors): rebuilding", self.size, db.count())
            self.rebuild(db)
            return "rebuilt (stale)"
        return how

    def _load(self) -> str | None:
        path, meta = self.directory / INDEX_FILE, self.directory / META_FILE
        if not path.exists() or not meta.exists():
            return None
        try:
            info = IndexInfo(**json.loads(meta.read_text()))
            index = _faiss().read_index(str(path))
        except (OSError, ValueError, TypeError, RuntimeError) as exc:  # faiss raises RuntimeError on a bad file
            log.warning("memory index unreadable (%s): rebuilding from SQLite", exc)
            return None
        if index.d != self.dim or index.ntotal != info.size:
            log.warning("memory index file does not match its metadata: rebuilding from SQLite")
            return None
        self.index, self.kind, self.seq = index, info.kind, info.seq
        self.nlist, self.trained_on, self.saved_seq = info.nlist, info.trained_on, info.seq
        self._tune()
        return "loaded"

    def save(self) -> None:
        """Write the index atomically (a crash mid-save leaves the previous one)."""
        if self.index is None or self.saved_seq == self.seq:
            return
        path, meta = self.directory / INDEX_FILE, self.directory / META_FILE
        info = IndexInfo(kind=self.kind, seq=self.seq, size=self.size, nlist=self.nlist, trained_on=self.trained_on)
        try:
            _faiss().write_index(self.index, str(path) + ".tmp")
            os.replace(str(path) + ".tmp", path)
            meta.write_text(json.dumps(info.__dict__))
        except (OSError, RuntimeError) as exc:
            # Not fatal: SQLite is the truth and the index is rebuilt next time.
            log.warning("cannot save the memory index: %s", exc)
            return
        self.saved_seq = self.seq

    def rebuild(self, db: Database) -> None:
        """Build a fresh index from every vector in SQLite (exact or IVF by size)."""
        seq = db.seq()
        n = db.count()
        faiss = _faiss()
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        try:
            if n <= self.exact_max:
                index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
                self.kind, self.nlist, self.trained_on = "flat", 0, 0
            else:
                self.nlist = int(min(8192, max(64, 2 * math.sqrt(n))))
                index = faiss.IndexIVFFlat(
                    faiss.IndexFlatIP(self.dim), self.dim, self.nlist, faiss.METRIC_INNER_PRODUCT
                )
                index.train(self._sample(db, n, self.nlist * 40))
                self.kind, self.trained_on = "ivf", n
            for vids, vectors in db.iter_vectors():
                index.add_with_ids(vectors, vids)
        except RuntimeError as exc:
            raise MemoryStoreError(f"cannot build the memory index: {exc}") from exc
        finally:
            faiss.omp_set_num_threads(1)
        self.index, self.seq = index, seq
        self._tune()
        log.info("memory index rebuilt: %s, %d vectors", self.kind, self.size)
        # Rebuilds are the expensive path: keep the result even if we crash later.
        self.save()

    @staticmethod
    def _sample(db: Database, n: int, want: int) -> np.ndarray:
        step = max(1, n // want)
        parts = [vectors[::step] for _, vectors in db.iter_vectors()]
        return np.ascontiguousarray(np.concatenate(parts)[:want])

    def _tune(self) -> None:
        if self.kind == "ivf":
            # ~1.5% of the lists: recall@10 near 0.95 on sentence embeddings at a few ms per query.
            self.index.nprobe = max(16, self.nlist // 64)

    def needs_rebuild(self) -> bool:
        """Flat grown past the exact limit, or IVF grown far beyond what it was trained on."""
        if self.kind == "flat":
            return self.size > self.exact_max * 1.2
        return self.size > 4 * self.trained_on or self.size < self.exact_max // 2

    # -- keeping up with SQLite ------------------------------------------------------

    def catch_up(self, db: Database) -> int:
        """Apply every change committed since ``self.seq`` (by this process or another)."""
        current = db.seq()
        if current == self.seq:
            return 0
        changed = 0
        removed = db.tombstones_since(self.seq)
        batches = list(db.iter_vectors(since_vseq=self.seq))
        try:
            ids = np.array(removed + [int(v) for vids, _ in batches for v in vids], dtype=np.int64)
            if len(ids):
                self.index.remove_ids(ids)
            for vids, vectors in batches:
                self.index.add_with_ids(vectors, vids)
                changed += len(vids)
        except RuntimeError as exc:
            raise MemoryStoreError(f"cannot update the memory index: {exc}") from exc
        self.seq = current
        return changed + len(removed)

    def add(self, vids: np.ndarray, vectors: np.ndarray, *, seq: int) -> None:
        """Add (or replace) vectors for rows committed at ``seq``."""
        try:
            self.index.remove_ids(np.asarray(vids, dtype=np.int64))
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(vids, dtype=np.int64))
        except RuntimeError as exc:
            raise MemoryStoreError(f"cannot update the memory index: {exc}") from exc
        self.seq = seq

    def add_written(self, written: Mapping[int, np.ndarray], *, seq: int) -> None:
        """Index the vectors (by vid) that the transaction at ``seq`` wrote, if it wrote any."""
        if written:
            self.add(
                np.fromiter(written, dtype=np.int64, count=len(written)), np.stack(list(written.values())), seq=seq
            )
        else:
            self.seq = seq

    def remove(self, vids: list[int], *, seq: int) -> None:
        try:
            self.index.remove_ids(np.asarray(vids, dtype=np.int64))
        except RuntimeError as exc:
            raise MemoryStoreError(f"cannot update the memory index: {exc}") from exc
        self.seq = seq

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(similarities, vids) of shape (len(vectors), k); missing slots have vid -1."""
        if self.size == 0:
            n = len(vectors)
            return np.zeros((n, 0), dtype=np.float32), np.zeros((n, 0), dtype=np.int64)
        try:
            return self.index.search(np.ascontiguousarray(vectors, dtype=np.float32), min(k, self.size))
        except RuntimeError as exc:
            raise MemoryStoreError(f"memory index search failed: {exc}") from exc
