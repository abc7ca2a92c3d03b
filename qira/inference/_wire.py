"""OpenAI chat-completions JSON <-> Qira's records, shared by the local and the cloud backend.

Both llama.cpp (in-process) and every gigafactory endpoint speak the same chunk
format, so one parser turns chunks into deltas for both.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ._types import ChatMessage, ChatRequest, Delta, Finish, TextDelta, ToolCall, ToolCallDelta, Usage

__all__ = ["ChunkParser", "closed_schema", "estimate_tokens", "message_json", "request_json"]


def message_json(message: ChatMessage) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    return out


def request_json(
    request: ChatRequest,
    *,
    model: str | None = None,
    local: bool = False,
    extra_messages: tuple[ChatMessage, ...] = (),
) -> dict[str, Any]:
    """The body of a streaming ``/v1/chat/completions`` request.

    ``local=True`` drops the tools (SmolLM2 cannot be trusted to choose them; the
    agent matches intents with embeddings instead) and uses llama.cpp's own
    ``json_schema`` field, which it compiles to a grammar."""
    body: dict[str, Any] = {
        "messages": [message_json(m) for m in (*request.messages, *extra_messages)],
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if request.stop:
        body["stop"] = list(request.stop)
    if model:
        body["model"] = model
    if request.json_schema is not None:
        schema = closed_schema(request.json_schema)
        if local:
            body["json_schema"] = schema
        else:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": schema, "strict": True},
            }
    if request.tools and not local:
        body["tools"] = [dict(t) for t in request.tools]
    return body


def closed_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a JSON schema where every object forbids extra properties: llama.cpp's
    grammar (and OpenAI's strict mode) need ``"additionalProperties": false``."""

    def close(node: Any) -> Any:
        if isinstance(node, Mapping):
            out = {k: close(v) for k, v in node.items()}
            if out.get("type") == "object" and "additionalProperties" not in out:
                out["additionalProperties"] = False
            return out
        if isinstance(node, list):
            return [close(v) for v in node]
        return node

    return close(schema)


def estimate_tokens(text: str) -> int:
    """A rough token count (about four characters a token) for when an endpoint sends no usage."""
    return max(1, len(text) // 4) if text else 0


class ChunkParser:
    """Feeds ``chat.completion.chunk`` objects, yields deltas.

    Tool calls arrive in fragments keyed by index; they are emitted whole, once, when
    the choice finishes. ``finish()`` yields the trailing tool calls, usage and the
    :class:`Finish`. ``finished`` tells whether the endpoint sent a finish reason,
    which separates a complete stream from a truncated one."""

    def __init__(self) -> None:
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self._calls: dict[int, dict[str, str]] = {}
        self._emitted_calls = False

    @property
    def finished(self) -> bool:
        return self.finish_reason is not None

    def feed(self, chunk: Mapping[str, Any]) -> Iterator[Delta]:
        usage = chunk.get("usage")
        if isinstance(usage, Mapping):
            self.usage = Usage(
                prompt_tokens=int(usage.get("prompt_tokens") or 0),
                completion_tokens=int(usage.get("completion_tokens") or 0),
            )
        choices = chunk.get("choices") or []
        if not isinstance(choices, list):
            raise ValueError("'choices' is not a list")
        for choice in choices:
            delta = choice.get("delta") or {}
            text = delta.get("content")
            if text:
                yield TextDelta(text=text)
            for fragment in delta.get("tool_calls") or ():
                slot = self._calls.setdefault(int(fragment.get("index", 0)), {"id": "", "name": "", "arguments": ""})
                if fragment.get("id"):
                    slot["id"] = fragment["id"]
                function = fragment.get("function") or {}
                if function.get("name"):
                    slot["name"] += function["name"]
                if function.get("arguments"):
                    slot["arguments"] += function["arguments"]
            if choice.get("finish_reason"):
                self.finish_reason = str(choice["finish_reason"])
                yield from self._tool_calls()

    def finish(self, *, degraded: bool = False) -> Iterator[Delta]:
        yield from self._tool_calls()
        if self.usage is not None:
            yield self.usage
        yield Finish(reason=self.finish_reason or "stop", degraded=degraded)

    def _tool_calls(self) -> Iterator[Delta]:
        if self._emitted_calls or not self._calls:
            return
        self._emitted_calls = True
        for index in sorted(self._calls):
            slot = self._calls[index]
            yield ToolCallDelta(
                call=ToolCall(id=slot["id"] or f"call_{index}", name=slot["name"], arguments=slot["arguments"] or "{}")
            )
