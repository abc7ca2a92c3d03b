"""A turn's state in the planner graph, and the small rules the graph's steps share."""

from __future__ import annotations

import operator
import re
from collections.abc import Mapping
from typing import Annotated, Any, Protocol, TypedDict

from ..devices import DeviceKind

__all__ = ["TurnSink", "TurnState"]


class TurnSink(Protocol):
    async def delta(self, text: str) -> None: ...
    async def done(
        self, text: str, *, route: str, degraded: bool, fallback: bool = False, reason: str = ""
    ) -> None: ...


class _NullSink:
    async def delta(self, text: str) -> None:
        return None

    async def done(self, text: str, *, route: str, degraded: bool, fallback: bool = False, reason: str = "") -> None:
        return None


_YES = re.compile(
    r"^(?:yes|yeah|yep|yup|sure|ok|okay|please do|do it|go ahead|yes please|correct|right)\b[\s,.!]*"
    r"(?:please|do it|go ahead|thanks)?[\s.!]*$",
    re.IGNORECASE,
)


def _affirmative(text: str) -> bool:
    return bool(_YES.match(text.strip()))


def _ask_back(skill: Any, arguments: Mapping[str, Any] | None) -> str:
    """ "Save “buy milk” as a note?": the skill's summary when its slots are known, else its description."""
    what = skill.describe(arguments) if (skill.summary and arguments) else skill.description
    what = what[0].lower() + what[1:] if what else skill.name
    return f"Do you want me to {what.rstrip('.')}? Say yes and I will."


def _union(a: list[str], b: list[str]) -> list[str]:
    return a + [x for x in b if x not in a]


def _kind(state: Mapping[str, Any]) -> DeviceKind:
    return DeviceKind(state["device"].get("kind", "pc"))


def _intent_names(state: Mapping[str, Any]) -> list[str]:
    return [i["skill"] for i in state.get("intents") or []]


def _served(stream: Any, default: str) -> tuple[str, bool]:
    """Where a model stream really ran, and whether it fell back (InferenceService's Turn says)."""
    answered_by = getattr(stream, "answered_by", None)
    served = getattr(answered_by, "value", None) or default
    return served, getattr(stream, "fallback", None) is not None


def _failover(stream: Any, mid_answer: bool) -> dict[str, Any]:
    """For chat.done: ``degraded`` when the cloud failed mid-answer, ``fallback`` when it failed
    before its first token, and the reason in words (the inference Turn's ``fallback``)."""
    reason = getattr(stream, "fallback", None) or ""
    return {"degraded": bool(mid_answer), "fallback": bool(reason) and not mid_answer, "reason": reason}


def _worse(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "degraded": bool(a.get("degraded") or b.get("degraded")),
        "fallback": bool(a.get("fallback") or b.get("fallback")),
        "reason": a.get("reason") or b.get("reason") or "",
    }


class TurnState(TypedDict, total=False):
    messages: Annotated[list[dict[str, Any]], operator.add]  # the thread's conversation
    participants: Annotated[list[str], _union]  # device ids that spoke in this thread
    thread: str
    turn: str
    device: dict[str, Any]  # the asking device: id, name, kind
    text: str
    recalled: list[dict[str, Any]]
    intents: list[dict[str, Any]]
    intent: dict[str, Any]  # the classifier's decision: act | ask | model, the skill, why
    offer: dict[str, Any] | None  # a skill Qira asked about last turn ("Save that as a note?")
    route: dict[str, Any]
    mode: str  # skill | chat | answered
    calls: list[dict[str, Any]]
    approvals: dict[str, str]
    results: list[dict[str, Any]]
    answer: str
    answer_streamed: bool  # the answer already went out as deltas (a cloud plan that just talked)
    served: str  # where the model work of the turn actually ran (local after a cloud failure)
    degraded: bool
    fallback: bool  # the cloud failed before its first token; another model answered
    reason: str  # why the turn was degraded or fell back, in words
    # from the OpenAI-compatible API: system text, max_tokens, temperature, stop
    options: dict[str, Any]
