"""A conversation's transcript kept as a thread in the shared ``threads`` document
(Yjs), so the person's devices — the companion included — see it as it grows and a
hub restart keeps it. It becomes a memory only on request (``conversation.remember``)."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from pycrdt import Array, Doc

__all__ = ["DocTranscripts", "DOC", "key_for"]

DOC = "threads"


class _Docs(Protocol):
    def doc(self, name: str) -> Doc: ...
    def edit(self, name: str) -> AbstractAsyncContextManager[Doc]: ...


def key_for(conversation: str) -> str:
    return f"conversation:{conversation}"


class DocTranscripts:
    def __init__(self, docs: _Docs) -> None:
        self._docs = docs

    async def append(self, conversation: str, line: Mapping[str, Any]) -> None:
        async with self._docs.edit(DOC) as doc:
            doc.get(key_for(conversation), type=Array).append(dict(line))

    async def lines(self, conversation: str) -> list[dict[str, Any]]:
        doc = self._docs.doc(DOC)
        if key_for(conversation) not in doc.keys():
            return []
        lines = doc.get(key_for(conversation), type=Array).to_py() or []
        # Yjs keeps numbers as floats: utterance numbers go back to integers
        return [{**line, "utterance": int(line.get("utterance", 0))} for line in lines if isinstance(line, dict)]
