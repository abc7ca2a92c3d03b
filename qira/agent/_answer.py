"""How the model's answer is asked for and shaped: grounding in the person's memories,
the honest line when a request is beyond the small local model, and answers a
wearable can show whole (never cut mid-word)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..sdk import Permission
from ..sdk.words import clip
from ._decide import Decision
from ._utterance import about_the_person

__all__ = ["BEYOND_LOCAL", "WearableBuffer", "beyond_local", "grounding", "memory_reader", "relevant_memories"]

# A recalled memory feeds the answer only when it is this close to the question (cosine of
# the embeddings), and not far behind the best one.
RELEVANT_SIMILARITY = 0.35
WITHIN_BEST = 0.15

BEYOND_LOCAL = (
    "That needs a bigger model than the small one on this hub. Set up a gigafactory endpoint in "
    "[inference.cloud], or point [inference.local] model_path at a larger GGUF you have."
)

# Writing, reasoning and long-form requests: SmolLM2-135M invents rather than fails.
_GENERATIVE = re.compile(
    r"^(?:please\s+)?(?:can you\s+|could you\s+)?(?:write|draft|compose|summari[sz]e|sum up|explain|rewrite|"
    r"proofread|plan|brainstorm|create|generate|outline|analy[sz]e|compare|prove|solve|code|design|translate "
    r"(?:this|the following) (?:document|article|text|email|letter)|tell me a (?:long )?story|essay)\b",
    re.IGNORECASE,
)
LONG_REQUEST_CHARS = 400


def relevant_memories(hits: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Only the memories that bear on the question (``similarity`` or ``score`` per hit)."""
    if not hits:
        return []

    def closeness(h: Mapping[str, Any]) -> float:
        return float(h.get("similarity", h.get("score", 0.0)))

    best = max(closeness(h) for h in hits)
    return [h for h in hits if closeness(h) >= RELEVANT_SIMILARITY and closeness(h) >= best - WITHIN_BEST]


def grounding(recalled: Sequence[Mapping[str, Any]]) -> str:
    """The system prompt's part about the person: the relevant memories, and how to use them."""
    if not recalled:
        return ""
    facts = "\n".join(f"- {r['text']}" for r in recalled)
    return (
        "\nWhat the person told you before (answer questions about them from these facts, in one sentence, "
        "speaking to them as 'you'; if the facts do not say, say you don't know):\n" + facts
    )


def beyond_local(text: str, route: Mapping[str, Any], *, personal: bool) -> bool:
    """A writing or reasoning request left to the small local model: no cloud configured or
    allowed (the router would have sent it there), and nothing private keeping it here."""
    if route.get("target") != "local" or personal:
        return False
    return bool(_GENERATIVE.match(text.strip())) or len(text) > LONG_REQUEST_CHARS


class WearableBuffer:
    """Holds back the word being written, so a wearable never shows half a word; at the end
    an answer cut by the length limit is trimmed to its last sentence (or word)."""

    def __init__(self, limit_chars: int) -> None:
        self.limit_chars = limit_chars
        self.pending = ""
        self.sent = ""

    def feed(self, text: str) -> str:
        """What may go out now."""
        self.pending += text
        cut = max(self.pending.rfind(" "), self.pending.rfind("\n"))
        if cut < 0:
            return ""
        out, self.pending = self.pending[: cut + 1], self.pending[cut + 1 :]
        self.sent += out
        return out

    def finish(self, *, cut_short: bool) -> tuple[str, str]:
        """(the rest to send, the whole answer as the device should keep it)."""
        if not cut_short:
            rest, self.pending = self.pending, ""
            self.sent += rest
            return rest, clip(self.sent, self.limit_chars)
        text = self.sent.rstrip()  # the half-written last word is dropped
        ends = [m.end() for m in re.finditer(r"[.!?…](?=\s|$)", text)]
        if ends and ends[-1] >= len(text) // 3:
            final = text[: ends[-1]]
        else:
            final = text.rstrip(" ,;:-") + "…" if text else ""
        return "", clip(final, self.limit_chars)


# A question about the person goes to the memory skill when a memory is this close to it
# (cosine), even if the classifier left it to the model: "what's my wifi password?".
MEMORY_ANSWERS = 0.5


def memory_reader(found: Any, recalled: Sequence[Mapping[str, Any]], text: str, registry: Any) -> str | None:
    """The skill that reads memory (read-only, ``memory.read``), for a question about the
    person that the classifier left to the model although a memory plainly answers it."""
    if found.decision is Decision.ACT or not recalled or not about_the_person(text):
        return None
    if max(float(r.get("similarity", r.get("score", 0.0))) for r in recalled) < MEMORY_ANSWERS:
        return None
    for c in found.candidates:
        skill = registry.get(c.skill)
        if skill is not None and skill.read_only and Permission.MEMORY_READ in skill.permissions:
            return str(skill.name)
    return None
