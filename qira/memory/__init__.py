"""Vector memory of the person's context: SQLite is the truth, FAISS the index."""

from ._embedder import Embedder
from ._extract import Extractor, RuleExtractor, extract_facts
from ._handlers import memory_handlers, memory_json
from ._store import CONTEXT_KINDS, MemoryStore
from ._types import Action, AddResult, ExtractedFact, HistoryEntry, Memory, MemoryKind, Scope, SearchHit

__all__ = [
    "CONTEXT_KINDS",
    "Action",
    "AddResult",
    "Embedder",
    "ExtractedFact",
    "Extractor",
    "HistoryEntry",
    "Memory",
    "MemoryKind",
    "MemoryStore",
    "RuleExtractor",
    "Scope",
    "SearchHit",
    "extract_facts",
    "memory_handlers",
    "memory_json",
]
