"""Act, ask back, or let the model answer: the decision over a classified utterance.

Sans I/O and pure: the ranked skills with their probabilities, the out-of-scope
probability and how the utterance reads (its mood, whether it asks about the person, a
negation, its first word) in; a :class:`Decision` out. Like Rasa's FallbackClassifier, with
a stricter bar for the skills that change something (``Skill.read_only`` False).
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..sdk import Permission, Skill
from ._utterance import Mood, negated_verb, normalize

__all__ = ["Classification", "Decision", "IntentMatch", "Thresholds", "decide"]


class Decision(enum.StrEnum):
    ACT = "act"  # run the skill
    ASK = "ask"  # a skill that changes something, not sure enough: ask the person first
    MODEL = "model"  # no skill: the model answers


@dataclass(frozen=True, kw_only=True)
class IntentMatch:
    skill: str
    score: float  # the classifier's probability, 0..1
    arguments: Mapping[str, str] | None = field(default=None)  # from a pattern, when one matched
    similarity: float = 0.0  # cosine of the utterance to the skill's nearest example
    pattern: bool = False  # a pattern matched the whole utterance and its slots converted


@dataclass(frozen=True, kw_only=True)
class Thresholds:
    """When a match is good enough (``[agent]`` in the config)."""

    read_only: float = 0.6  # a skill that only reads or talks acts at this probability
    changes: float = 0.75  # a skill that changes something needs this much
    ask: float = 0.35  # between this and ``changes``: ask back instead
    similarity: float = 0.3  # below this cosine to every example of the skill: out of scope
    margin: float = 0.1  # over the runner-up skill
    pattern_veto: float = 0.85  # a matching pattern acts unless out-of-scope is this likely

    @classmethod
    def from_config(cls, config: Any) -> Thresholds:
        return cls(
            read_only=config.intent_threshold,
            changes=config.intent_act_threshold,
            ask=config.intent_ask_threshold,
            similarity=config.intent_floor,
            margin=config.intent_margin,
        )


@dataclass(frozen=True, kw_only=True)
class Classification:
    """What the person meant: the ranked skills, the out-of-scope probability, and the decision."""

    text: str
    candidates: tuple[IntentMatch, ...]  # every skill, most likely first
    out_of_scope: float
    decision: Decision
    skill: str | None  # the skill to run (ACT) or to offer (ASK)
    reason: str

    @property
    def top(self) -> IntentMatch | None:
        return self.candidates[0] if self.candidates else None

    @property
    def chosen(self) -> IntentMatch | None:
        return next((c for c in self.candidates if c.skill == self.skill), None)

    def as_json(self) -> dict[str, Any]:
        return {
            "decision": self.decision.value,
            "skill": self.skill,
            "reason": self.reason,
            "out_of_scope": round(self.out_of_scope, 4),
            "candidates": [
                {
                    "skill": c.skill,
                    "score": round(c.score, 4),
                    "similarity": round(c.similarity, 4),
                    "pattern": c.pattern,
                    "arguments": dict(c.arguments) if c.arguments else None,
                }
                for c in self.candidates
            ],
        }


def decide(
    candidates: Sequence[IntentMatch],
    out_of_scope: float,
    skills: Mapping[str, Skill],
    *,
    thresholds: Thresholds,
    embedded: bool = True,
    mood: Mood = Mood.COMMAND,
    about_me: bool = False,
    negated: str | None = None,
    lead: str | None = None,
    no_words_to_keep: bool = False,
) -> tuple[Decision, str | None, str]:
    """Act, ask back or leave it to the model: (decision, skill, why). A skill that changes
    something needs a command; for a question that merely mentions its topic it never acts,
    and a matching pattern in a "can you ...?" needs the classifier to agree strongly. A
    question ``about_me`` (the person) goes to the read-only skill that reads their memory
    when that skill leads the ones that answer questions. A ``negated`` request ("stop
    remembering ...", the stem of its verb) runs a skill that changes something only when
    that skill's own examples negate the same verb ("don't forget that ..." for remember). An
    utterance whose ``lead`` word starts another changing skill's examples, and none of the
    chosen one's ("remember my wifi password is ..." scored as forget), is asked back, not run.
    An utterance with ``no_words_to_keep`` (asking for content to be written: "jot down some ideas for a
    party"), or naming nothing to act on ("ok remember this"), runs no skill that changes
    something: the model writes it, or asks what."""
    t = thresholds
    if no_words_to_keep and embedded:
        candidates = [c for c in candidates if c.skill in skills and skills[c.skill].read_only]
    if negated is not None and embedded:
        candidates = [c for c in candidates if c.skill in skills and _may_negate(skills[c.skill], negated)]
    patterned = [c for c in candidates if c.pattern]
    if patterned:
        p = patterned[0]
        if not embedded:
            return Decision.ACT, p.skill, "a pattern matched (no embeddings to weigh it)"
        changes = not skills[p.skill].read_only if p.skill in skills else True
        loose = changes and p.skill in skills and _free_text(skills[p.skill], p.arguments)
        # "remember {text}" matches "remember the alamo, what happened there": a slot that takes
        # any words proves little, so the classifier must agree that far before it changes anything
        doubtful = changes and (mood is not Mood.COMMAND and p.score < t.changes or loose and p.score < t.ask)
        if (out_of_scope < t.pattern_veto or p.score >= t.ask) and not doubtful:
            return Decision.ACT, p.skill, f"a pattern of {p.skill} matched the whole utterance"
    if not candidates or not embedded:
        return Decision.MODEL, None, "no skill matched"
    if mood is Mood.QUESTION:
        # A question never asks to change something: weigh only the skills that read or talk
        # (and out-of-scope), as the probabilities given that it is no such request.
        candidates, out_of_scope = _reading_only(candidates, out_of_scope, skills)
        if not candidates:
            return Decision.MODEL, None, "a question, and no skill answers questions"
    top = candidates[0]
    second = candidates[1].score if len(candidates) > 1 else 0.0
    skill = skills.get(top.skill)
    if skill is None:
        return Decision.MODEL, None, f"out of scope ({out_of_scope:.2f})"
    if about_me and skill.read_only and Permission.MEMORY_READ in skill.permissions and top.similarity >= t.similarity:
        # "what do I prefer to drink" reads like an open question to a classifier that has seen
        # many; but it asks about the person, and the skill that reads their memory leads the
        # skills that could answer: it answers (or says it does not know yet).
        return Decision.ACT, top.skill, f"a question about you: {top.skill} ({top.score:.2f})"
    if top.score <= out_of_scope:
        return Decision.MODEL, None, f"out of scope ({out_of_scope:.2f})"
    if top.similarity < t.similarity:
        return Decision.MODEL, None, f"{top.skill}: no example is close ({top.similarity:.2f})"
    needed = t.read_only if skill.read_only else t.changes
    contradicted = not skill.read_only and lead is not None and _leads_elsewhere(skill, lead, skills)
    if top.score >= needed and top.score - second >= t.margin and not contradicted:
        return Decision.ACT, top.skill, f"{top.skill} at {top.score:.2f}"
    if not skill.read_only and top.score >= t.ask:
        return Decision.ASK, top.skill, f"{top.skill} at {top.score:.2f} changes something: asking first"
    return Decision.MODEL, None, f"{top.skill} only at {top.score:.2f}"


def _free_text(skill: Skill, arguments: Mapping[str, str] | None) -> bool:
    """Did the pattern fill a slot that takes any words (a ``str`` with no slot converter)?"""
    typed = {p.name for p in skill.params if p.schema.get("type") != "string"} | set(skill.slots)
    return any(name not in typed for name in arguments or {})


def _leads_elsewhere(skill: Skill, lead: str, skills: Mapping[str, Skill]) -> bool:
    """Is ``lead`` the verb of another skill that changes something, and never how this one's
    examples start? (A verb of one skill only: "set" starts reminders and timers alike.)"""
    if lead in _firsts(skill.examples):
        return False
    changing = [o for o in skills.values() if not o.read_only]
    owners = [o for o in changing if lead in _firsts(o.examples)]
    return len(owners) == 1 and _firsts(owners[0].examples).count(lead) >= 2


@functools.lru_cache(maxsize=256)
def _firsts(examples: tuple[str, ...]) -> tuple[str, ...]:
    """The first word of each of a skill's examples."""
    return tuple(w[0] for w in (normalize(e).lower().split() for e in examples) if w)


def _may_negate(skill: Skill, verb: str) -> bool:
    return skill.read_only or verb in _negated_verbs(skill.examples)


@functools.lru_cache(maxsize=256)
def _negated_verbs(examples: tuple[str, ...]) -> frozenset[str]:
    return frozenset(v for v in map(negated_verb, examples) if v is not None)


def _reading_only(
    candidates: Sequence[IntentMatch], out_of_scope: float, skills: Mapping[str, Skill]
) -> tuple[list[IntentMatch], float]:
    kept = [c for c in candidates if c.skill in skills and skills[c.skill].read_only]
    mass = sum(c.score for c in kept) + out_of_scope
    if mass <= 0:
        return kept, out_of_scope
    return [replace(c, score=round(c.score / mass, 4)) for c in kept], out_of_scope / mass
