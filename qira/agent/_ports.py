"""The small interfaces the agent depends on. The real InferenceService and MemoryStore
satisfy them; tests pass purpose-built fakes (a scripted model, a recording gateway)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol

from ..inference import ChatRequest, Delta, RouteDecision
from ..memory import Memory, MemoryKind, Scope, SearchHit

__all__ = ["MemoryPort", "ModelPort"]


class ModelPort(Protocol):
    """The inference router: decide where a request runs, and run it streaming."""

    def route(self, request: ChatRequest, *, device_kind: Any = None) -> RouteDecision: ...

    def chat(self, request: ChatRequest, *, device_kind: Any = None) -> AsyncIterator[Delta]: ...


class MemoryPort(Protocol):
    async def add(
        self,
        text: str,
        *,
        kind: MemoryKind = ...,
        scope: Scope = ...,
        device: str | None = ...,
        importance: float = ...,
        expires_at: float | None = ...,
        actor: str | None = ...,
    ) -> Any: ...

    async def search(
        self,
        query: str,
        *,
        k: int = ...,
        kinds: Sequence[MemoryKind] | None = ...,
        scopes: Sequence[Scope] | None = ...,
        device: str | None = ...,
        embedding: Any = ...,
    ) -> list[SearchHit]: ...

    async def forget(self, memory_id: str, *, actor: str | None = ...) -> Any: ...

    async def list(self, *args: Any, **kwargs: Any) -> list[Memory]: ...
