"""Records of the memory store."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Action",
    "AddResult",
    "ExtractedFact",
    "HistoryEntry",
    "Memory",
    "MemoryKind",
    "Scope",
    "SearchHit",
    "memory_json",
]


class MemoryKind(enum.StrEnum):
    FACT = "fact"
    PREFERENCE = "preference"
    EPISODE = "episode"
    CONTEXT = "context"


class Scope(enum.StrEnum):
    SHARED = "shared"  # every device, and may go to the cloud model as context
    DEVICE = "device"  # only the device it came from
    PRIVATE = "private"  # never leaves the hub: requests that use it stay local


@dataclass(frozen=True, kw_only=True)
class Memory:
    id: str
    text: str
    kind: MemoryKind
    scope: Scope
    device: str | None  # source device id (None: the hub itself, the CLI)
    importance: float  # 0..1
    created_at: float
    updated_at: float
    expires_at: float | None = None


def memory_json(memory: Memory) -> dict[str, Any]:
    """A memory as plain JSON values (the wire, the CLI's --json, export)."""
    return {
        "id": memory.id,
        "text": memory.text,
        "kind": memory.kind.value,
        "scope": memory.scope.value,
        "device": memory.device,
        "importance": memory.importance,
        "created_at": memory.created_at,
        "updated_at": memory.updated_at,
        "expires_at": memory.expires_at,
    }


@dataclass(frozen=True, kw_only=True)
class SearchHit:
    memory: Memory
    score: float
    # why it ranked where it did: {"similarity": .., "lexical": .., "recency": .., "importance": ..}
    explanation: Mapping[str, Any] = field(default_factory=dict)


class Action(enum.StrEnum):
    ADDED = "added"  # a new memory was stored
    UPDATED = "updated"  # a near-duplicate existed: it was updated instead
    UNCHANGED = "unchanged"  # the same memory was already stored


@dataclass(frozen=True, kw_only=True)
class AddResult:
    memory: Memory  # the memory that now holds the text (the first chunk when it was split)
    action: str  # an Action value: "added" | "updated" | "unchanged"
    chunks: tuple[Memory, ...] = ()  # every stored chunk when the text was over the limit
    note: str | None = None  # readable: why it was split, which memory it updated


@dataclass(frozen=True, kw_only=True)
class HistoryEntry:
    memory_id: str
    seq: int  # store-wide change sequence number: orders entries
    at: float  # unix time
    op: str  # "add" | "update" | "merge" | "forget" | "import"
    actor: str | None  # who made the change: a device id, "cli", "hub", ...
    text: str | None  # the text after the change (None after forget)
    changes: Mapping[str, Any] = field(default_factory=dict)  # field -> [old, new]


@dataclass(frozen=True, kw_only=True)
class ExtractedFact:
    text: str  # the memory to store, in the person's own words, first person
    kind: MemoryKind
    importance: float
    rule: str  # which rule matched ("remember", "birthday", "diet", ...)
