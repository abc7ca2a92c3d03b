"""Records of the memory store."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Memory", "MemoryKind", "Scope", "SearchHit"]


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


@dataclass(frozen=True, kw_only=True)
class SearchHit:
    memory: Memory
    score: float
    # why it ranked where it did: {"similarity": .., "lexical": .., "recency": .., "importance": ..}
    explanation: Mapping[str, Any] = field(default_factory=dict)
