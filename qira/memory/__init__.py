"""Vector memory of the person's context: SQLite is the truth, FAISS the index."""

from ._embedder import Embedder
from ._types import Memory, MemoryKind, Scope, SearchHit

__all__ = ["Embedder", "Memory", "MemoryKind", "Scope", "SearchHit"]
