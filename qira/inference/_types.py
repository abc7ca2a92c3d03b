"""The one model interface: messages (and tool schemas) in, a stream of deltas out."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "ChatMessage",
    "ChatModel",
    "ChatRequest",
    "Delta",
    "Finish",
    "MemoryRef",
    "RouteDecision",
    "Target",
    "TextDelta",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
]


@dataclass(frozen=True, kw_only=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as OpenAI sends it


@dataclass(frozen=True, kw_only=True)
class ChatMessage:
    role: str  # system | user | assistant | tool
    content: str = ""
    tool_calls: Sequence[ToolCall] = ()
    tool_call_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class MemoryRef:
    """A recalled memory that is part of the request's context (rendered into its messages by
    the caller). The router uses it to decide what may leave: never ``private`` or ``device``
    scope, never one below the relevance cutoff, never one whose text holds personal data."""

    text: str
    scope: str = "shared"  # shared | device | private
    score: float | None = None  # the memory search's score; None: chosen by the caller, count it relevant


@dataclass(frozen=True, kw_only=True)
class ChatRequest:
    messages: Sequence[ChatMessage]
    tools: Sequence[Mapping[str, Any]] = ()  # OpenAI "function" tool schemas
    max_tokens: int = 256
    temperature: float = 0.7
    json_schema: Mapping[str, Any] | None = None  # structured output (grammar-constrained locally)
    stop: Sequence[str] = ()  # stop sequences (issue 11: the OpenAI API's ``stop``)
    # what the router needs to know about the request beyond its text:
    private_context: bool = False  # a private-scope memory is in the context (keeps the request local)
    memories: Sequence[MemoryRef] = ()  # recalled memories in the context: the router filters what may leave
    intent_confidence: float | None = None  # from local intent matching, when there was one


@dataclass(frozen=True, kw_only=True)
class TextDelta:
    text: str


@dataclass(frozen=True, kw_only=True)
class ToolCallDelta:
    call: ToolCall  # emitted once per complete tool call


@dataclass(frozen=True, kw_only=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True, kw_only=True)
class Finish:
    reason: str  # stop | length | tool_calls | cancelled
    degraded: bool = False  # the cloud failed mid-stream and the local model finished the turn


Delta = TextDelta | ToolCallDelta | Usage | Finish


class Target(enum.StrEnum):
    LOCAL = "local"
    CLOUD = "cloud"


@dataclass(frozen=True, kw_only=True)
class RouteDecision:
    target: Target
    reasons: Sequence[str]  # readable by the person, most decisive first
    max_tokens: int | None = None  # a cap the service applies (short answers for a wearable)
    personal_data: Sequence[str] = ()  # kinds of personal data found (never the data itself)
    cloud_allowed: bool = False  # a local answer the cloud may take over if the local model fails
    # what goes to the cloud instead of the request itself: memories that may not leave
    # taken out, personal data replaced by placeholders (None: the request as it is)
    cloud_request: ChatRequest | None = field(default=None, compare=False, repr=False)
    redaction: Any = field(default=None, compare=False, repr=False)  # qira.privacy.Redaction: values to put back

    def explain(self) -> str:
        return f"{self.target.value}: " + "; ".join(self.reasons)

    def as_json(self) -> dict[str, Any]:
        """For the wire: where the request went and why."""
        out: dict[str, Any] = {"target": self.target.value, "reasons": list(self.reasons)}
        if self.personal_data:
            out["personal_data"] = list(self.personal_data)
        if self.redaction is not None:
            out["redacted"] = len(self.redaction.values)
        if self.max_tokens is not None:
            out["max_tokens"] = self.max_tokens
        return out


class ChatModel(Protocol):
    """A backend: the in-process llama.cpp model, an OpenAI-compatible endpoint, a scripted fake."""

    name: str

    def stream(self, request: ChatRequest) -> AsyncIterator[Delta]:
        """Stream deltas; the last one is a :class:`Finish`. Closing the iterator cancels."""
        ...
