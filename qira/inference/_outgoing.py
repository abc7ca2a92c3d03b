"""What may leave the hub: the privacy half of the router (sans-I/O, pure computation).

Given a request, answer either "keep it local, because ..." or the request as the
cloud may see it: recalled memories that may not leave taken out of it, and, in
``redact`` mode, personal data replaced by typed placeholders.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from ..privacy import PersonalData, Redaction, redact, scan_texts
from ._types import ChatMessage, ChatRequest, MemoryRef, ToolCall

__all__ = ["Verdict", "outgoing", "outgoing_text"]


@dataclass(frozen=True, kw_only=True)
class Verdict:
    keep_local: str | None = None  # the reason the request must not leave
    personal: tuple[str, ...] = ()  # kinds of personal data found (names, never the data)
    cloud_request: ChatRequest | None = None  # None: the request may leave as it is
    redaction: Redaction | None = None

    @property
    def note(self) -> str | None:
        return self.redaction.describe() if self.redaction is not None else None


def outgoing(request: ChatRequest, *, mode: str, min_score: float) -> Verdict:
    if request.private_context:
        return Verdict(
            keep_local="a memory marked private is part of the conversation, and private memories never leave this hub"
        )
    messages = list(request.messages)
    for memory in request.memories:
        relevant = memory.score is None or memory.score >= min_score
        if memory.scope == "shared" and relevant:
            found = scan_texts([memory.text]).kinds
            if found:
                return Verdict(
                    keep_local=f"a memory relevant to this request holds {_kinds(found)}, and such memories "
                    "never leave this hub",
                    personal=_names(found),
                )
            continue
        if relevant:
            where = "marked private" if memory.scope == "private" else "kept on one device"
            return Verdict(keep_local=f"a memory {where} is relevant to this request, and it never leaves this hub")
        stripped = _strip(messages, memory)
        if stripped is None:
            return Verdict(keep_local="a memory that may not leave this hub is quoted in the conversation")
        messages = stripped
    changed = messages != list(request.messages)
    fields = _fields(messages)
    scan = scan_texts([text for _, _, text in fields])
    base = dataclasses.replace(request, messages=messages, memories=(), private_context=False)
    if not scan.found:
        return Verdict(cloud_request=base if changed or request.memories else None)
    personal = _names(scan.kinds)
    if mode != "redact":
        reason = f"the conversation contains {_kinds(scan.kinds)}, and personal data stays on this hub"
        return Verdict(keep_local=reason, personal=personal)
    if not scan.redactable:
        return Verdict(
            keep_local=f"the conversation contains {_kinds(scan.kinds)}; {_kinds(scan.topics)} cannot be "
            "redacted, and personal data stays on this hub",
            personal=personal,
        )
    redaction = redact([text for _, _, text in fields], scan)
    return Verdict(
        personal=personal,
        redaction=redaction,
        cloud_request=dataclasses.replace(base, messages=_rebuild(messages, fields, redaction.texts)),
    )


def outgoing_text(request: ChatRequest) -> str:
    """Everything of the conversation that would be sent: contents and tool-call arguments."""
    return "\n".join(text for _, _, text in _fields(list(request.messages)))


def _fields(messages: Sequence[ChatMessage]) -> list[tuple[int, int, str]]:
    """(message, -1 for the content or the tool call's index, text) of every text that is sent."""
    out = [(i, -1, m.content) for i, m in enumerate(messages) if m.content]
    out.extend((i, j, c.arguments) for i, m in enumerate(messages) for j, c in enumerate(m.tool_calls) if c.arguments)
    return out


def _rebuild(
    messages: list[ChatMessage], fields: list[tuple[int, int, str]], texts: Sequence[str]
) -> list[ChatMessage]:
    out = list(messages)
    for (i, j, _), text in zip(fields, texts, strict=True):
        m = out[i]
        if j < 0:
            out[i] = dataclasses.replace(m, content=text)
        else:
            calls = list(m.tool_calls)
            calls[j] = ToolCall(id=calls[j].id, name=calls[j].name, arguments=text)
            out[i] = dataclasses.replace(m, tool_calls=calls)
    return out


def _strip(messages: list[ChatMessage], memory: MemoryRef) -> list[ChatMessage] | None:
    """The messages without ``memory``'s text in the system prompt (where callers render
    recalled memories); None when it is quoted elsewhere and cannot be taken out."""
    text = memory.text.strip()
    if not text:
        return messages
    out = []
    for m in messages:
        if text not in m.content:
            out.append(m)
        elif m.role != "system":
            return None
        else:
            lines = []
            for line in m.content.replace(text, "").split("\n"):
                if line.strip() in ("-", "*", "•", ""):
                    if line.strip():
                        continue
                lines.append(line)
            out.append(dataclasses.replace(m, content="\n".join(lines).rstrip()))
    return out


def _names(kinds: Sequence[PersonalData]) -> tuple[str, ...]:
    return tuple(k.name.lower() for k in kinds)


def _kinds(kinds: Sequence[PersonalData]) -> str:
    items = [k.value for k in kinds]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
