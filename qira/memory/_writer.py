"""The add path's writing half: dedupe one batch of adds and write it in one transaction.

Runs on the store's worker thread. A text already stored (same scope) is kept
as it is; a near-duplicate (cosine at or above ``dedup_threshold``) updates the
existing memory, newer wording winning, because a restatement is usually a
correction. Two texts that differ in a number or a name are never merged,
however close their vectors: "my sister's birthday is May 3" and "my brother's
birthday is May 3" are two facts, and merging them would lose one.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..config import MemoryConfig
from ._db import Database, Row
from ._index import VectorIndex
from ._text import new_id
from ._types import Action, AddResult, Memory, MemoryKind, Scope

__all__ = ["AddRequest", "BatchWriter", "same_particulars"]

_DEDUP_NEIGHBOURS = 8
_WORD = re.compile(r"[\w'-]+", re.UNICODE)


@dataclass(kw_only=True)
class AddRequest:
    texts: list[str]
    hashes: list[str]
    kind: MemoryKind
    scope: Scope
    device: str | None
    importance: float
    expires_at: float | None
    actor: str | None
    note: str | None
    future: asyncio.Future[AddResult]
    vectors: list[np.ndarray] = field(default_factory=list)


class BatchWriter:
    def __init__(self, db: Database, index: VectorIndex, config: MemoryConfig) -> None:
        self._db = db
        self._index = index
        self.config = config

    def apply(self, batch: list[AddRequest]) -> list[AddResult]:
        """Dedupe and write one batch in one transaction (worker thread)."""
        db, index = self._db, self._index
        now = time.time()
        all_vectors = np.stack([v for r in batch for v in r.vectors])
        fresh: dict[int, np.ndarray] = {}  # vid -> vector written in this transaction
        results: list[AddResult] = []
        with db.write(prepare=lambda: index.catch_up(db)) as seq:
            same_text: dict[str, list[Any]] = {}
            for row, _vector in db.by_hash(h for r in batch for h in r.hashes):
                same_text.setdefault(row.text_hash, []).append(row)
            sims, vids = index.search(all_vectors, _DEDUP_NEIGHBOURS)
            near_rows = db.by_vids(int(v) for v in np.unique(vids) if v >= 0)
            touched: dict[int, Row] = {}  # rows written so far in this transaction
            at = 0
            for request in batch:
                stored: list[tuple[Memory, str, str | None]] = []
                parent: str | None = None
                for i, (text, h, vector) in enumerate(zip(request.texts, request.hashes, request.vectors, strict=True)):
                    chunked = len(request.texts) > 1
                    candidates = [touched.get(r.vid, r) for r in same_text.get(h, [])]
                    exact = next(
                        (r for r in candidates if r.memory.text == text and self._mergeable(r, request, now)), None
                    )
                    near: tuple[Row, float] | None = None
                    if exact is None and not chunked:
                        near = self._nearest(
                            request, text, vector, sims[at + i], vids[at + i], near_rows, touched, fresh, now
                        )
                    if exact is not None:
                        memory, action, note = self._refresh(exact, request, seq, now)
                        touched[exact.vid] = replace(exact, memory=memory)
                    elif near is not None:
                        row, similarity = near
                        memory = self._merge(row, request, text, h, vector, seq, now)
                        touched[row.vid] = replace(row, memory=memory, text_hash=h)
                        fresh[row.vid] = vector
                        action = Action.UPDATED.value
                        note = f"near-duplicate of {row.memory.id} (similarity {similarity:.2f}): updated it instead of adding a copy"
                    else:
                        memory = Memory(
                            id=new_id(),
                            text=text,
                            kind=request.kind,
                            scope=request.scope,
                            device=request.device,
                            importance=request.importance,
                            created_at=now,
                            updated_at=now,
                            expires_at=request.expires_at,
                        )
                        vid = db.insert(memory=memory, hash_=h, parent=parent, seq=seq, vector=vector)
                        db.record(memory.id, seq=seq, op="add", actor=request.actor, text=text, at=now)
                        touched[vid] = Row(vid=vid, memory=memory, text_hash=h, parent=parent)
                        same_text.setdefault(h, []).append(touched[vid])
                        fresh[vid] = vector
                        action, note = Action.ADDED.value, None
                    if chunked and parent is None:
                        parent = memory.id
                    stored.append((memory, action, note))
                at += len(request.texts)
                results.append(self._result(request, stored))
        index.add_written(fresh, seq=seq)
        return results

    @staticmethod
    def _mergeable(row: Row, request: AddRequest, now: float) -> bool:
        m = row.memory
        if m.scope is not request.scope or (m.scope is Scope.DEVICE and m.device != request.device):
            return False  # never fold a private or one device's memory into another scope
        if (m.kind is MemoryKind.CONTEXT) != (request.kind is MemoryKind.CONTEXT):
            return False  # a fading context event is not a lasting fact
        return m.expires_at is None or m.expires_at > now

    def _nearest(
        self,
        request: AddRequest,
        text: str,
        vector: np.ndarray,
        sims: np.ndarray,
        vids: np.ndarray,
        rows: dict[int, Row],
        touched: dict[int, Row],
        fresh: dict[int, np.ndarray],
        now: float,
    ) -> tuple[Row, float] | None:
        best: tuple[Row, float] | None = None
        options = [(float(s), int(v)) for s, v in zip(sims, vids, strict=True) if v >= 0 and int(v) not in fresh]
        # Rows written earlier in this same batch are not in the index yet.
        options += [(float(vector @ vec), vid) for vid, vec in fresh.items()]
        for similarity, vid in options:
            row = touched.get(vid) or rows.get(vid)
            if row is None or row.parent is not None or similarity < self.config.dedup_threshold:
                continue
            if not same_particulars(row.memory.text, text):
                continue
            if self._mergeable(row, request, now) and (best is None or similarity > best[1]):
                best = (row, similarity)
        return best

    def _refresh(self, row: Row, request: AddRequest, seq: int, now: float) -> tuple[Memory, str, str]:
        """The same text again: keep it; raise importance, renew a context event."""
        m = row.memory
        changes: dict[str, list[Any]] = {}
        updated = m
        if request.importance > m.importance:
            changes["importance"] = [m.importance, request.importance]
            updated = replace(updated, importance=request.importance)
        if request.kind is not m.kind:
            changes["kind"] = [m.kind.value, request.kind.value]
            updated = replace(updated, kind=request.kind)
        if m.kind is MemoryKind.CONTEXT:
            changes["updated_at"] = [m.updated_at, now]
            updated = replace(updated, updated_at=now, expires_at=request.expires_at)
        if not changes:
            return m, Action.UNCHANGED.value, f"already remembered as {m.id}"
        updated = replace(updated, updated_at=now)
        self._db.update(row.vid, seq=seq, memory=updated, hash_=row.text_hash, vector=None)
        self._db.record(m.id, seq=seq, op="update", actor=request.actor, text=m.text, changes=changes, at=now)
        return updated, Action.UPDATED.value, f"already remembered as {m.id}: updated {', '.join(changes)}"

    def _merge(
        self, row: Row, request: AddRequest, text: str, h: str, vector: np.ndarray, seq: int, now: float
    ) -> Memory:
        """A near-duplicate: the newer wording wins (it is often a correction)."""
        m = row.memory
        updated = replace(
            m,
            text=text,
            kind=request.kind,
            importance=max(m.importance, request.importance),
            updated_at=now,
            expires_at=request.expires_at if m.expires_at is not None else None,
        )
        changes: dict[str, list[Any]] = {"text": [m.text, text]}
        if updated.kind is not m.kind:
            changes["kind"] = [m.kind.value, updated.kind.value]
        if updated.importance != m.importance:
            changes["importance"] = [m.importance, updated.importance]
        self._db.update(row.vid, seq=seq, memory=updated, hash_=h, vector=vector)
        self._db.record(m.id, seq=seq, op="merge", actor=request.actor, text=text, changes=changes, at=now)
        return updated

    @staticmethod
    def _result(request: AddRequest, stored: list[tuple[Memory, str, str | None]]) -> AddResult:
        if len(stored) == 1:
            memory, action, note = stored[0]
            return AddResult(memory=memory, action=action, note=note)
        actions = {a for _, a, _ in stored}
        action = (
            Action.ADDED.value
            if Action.ADDED.value in actions
            else (Action.UPDATED.value if Action.UPDATED.value in actions else Action.UNCHANGED.value)
        )
        return AddResult(memory=stored[0][0], action=action, chunks=tuple(m for m, _, _ in stored), note=request.note)


def same_particulars(a: str, b: str) -> bool:
    """Whether two texts name the same numbers and proper names (so merging loses nothing)."""
    return _particulars(a) == _particulars(b)


def _particulars(text: str) -> frozenset[str]:
    words = _WORD.findall(text)
    out = set()
    for i, word in enumerate(words):
        if any(ch.isdigit() for ch in word):
            out.add(word.lower())
        elif i > 0 and len(word) > 1 and word[0].isupper():
            # A capitalised word mid-sentence is a name (of a person, a place, a month).
            out.add(word.lower().removesuffix("'s"))
    return frozenset(out)
