"""Facts the person states in conversation, pulled out locally by rules.

"Remember that the wifi password is on the fridge", "my sister's birthday is
May 3", "I don't eat meat": small, high-precision patterns, run on the hub with
no model. :class:`Extractor` is the interface; a model-based extractor (the
local LLM with a JSON grammar, say) can implement it later and be used instead.
"""

from __future__ import annotations

import re
from typing import Protocol, runtime_checkable

from ._types import ExtractedFact, MemoryKind

__all__ = ["Extractor", "RuleExtractor", "extract_facts"]


@runtime_checkable
class Extractor(Protocol):
    def extract(self, text: str) -> list[ExtractedFact]:
        """The memories worth keeping from one utterance (possibly none)."""
        ...


_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE = (
    rf"(?:{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}|\d{{1,2}}[/.-]\d{{1,2}})"
)
_RELATION = (
    r"(?:sister|brother|mother|mom|mum|father|dad|wife|husband|partner|son|daughter|friend|boss|"
    r"grandma|grandmother|grandpa|grandfather|aunt|uncle|cousin|niece|nephew|girlfriend|boyfriend|"
    r"dog|cat|colleague|manager|doctor|dentist|kid|child|baby)"
)

# (rule name, pattern, kind, importance, how to phrase the memory from the match)
_RULES: list[tuple[str, re.Pattern[str], MemoryKind, float, str]] = [
    (
        "remember",
        re.compile(r"^(?:please\s+)?(?:remember|don'?t forget|note)(?:\s+that)?[,:]?\s+(?P<fact>.{3,})$", re.I),
        MemoryKind.FACT,
        0.7,
        "{fact}",
    ),
    (
        "birthday",
        re.compile(
            rf"\b(?P<who>my\s+(?:\w+'s\s+)?(?:{_RELATION}(?:'s)?)|my|(?P<name>[A-Z][a-z]+)'s)\s*birthday\s+is\s+(?:on\s+)?(?:the\s+)?(?P<date>{_DATE})",
            re.I,
        ),
        MemoryKind.FACT,
        0.8,
        "{who} birthday is {date}",
    ),
    (
        "diet",
        re.compile(
            r"\bI\s+(?:don'?t|do not|never|can'?t|cannot|no longer)\s+(?P<verb>eat|drink)\s+(?P<what>[\w\s,'-]{2,60}?)\s*$",
            re.I,
        ),
        MemoryKind.PREFERENCE,
        0.8,
        "I don't {verb} {what}",
    ),
    (
        "diet",
        re.compile(
            r"\bI(?:'m| am)\s+(?:a\s+)?(?P<what>vegetarian|vegan|pescatarian|teetotal|lactose[- ]intolerant|"
            r"gluten[- ]free|celiac|coeliac|diabetic|kosher|halal)\b",
            re.I,
        ),
        MemoryKind.PREFERENCE,
        0.8,
        "I am {what}",
    ),
    (
        "allergy",
        re.compile(r"\bI(?:'m| am)\s+allergic\s+to\s+(?P<what>[\w\s,'-]{2,60}?)\s*$", re.I),
        MemoryKind.FACT,
        0.9,
        "I am allergic to {what}",
    ),
    (
        "relation",
        re.compile(
            rf"\bmy\s+(?P<rel>{_RELATION})(?:'s name)?\s+(?:is\s+(?:called|named)|is|'s)\s+(?P<name>[A-Z][\w-]+(?:\s+[A-Z][\w-]+)?)",
            re.I,
        ),
        MemoryKind.FACT,
        0.7,
        "my {rel} is {name}",
    ),
    (
        "name",
        re.compile(r"\b(?:my name is|call me)\s+(?P<name>[A-Z][\w-]+(?:\s+[A-Z][\w-]+)?)"),
        MemoryKind.FACT,
        0.8,
        "my name is {name}",
    ),
    (
        "home",
        re.compile(r"\bI\s+(?:live|moved)\s+(?:in|to)\s+(?P<place>[\w\s,'-]{2,60}?)\s*$", re.I),
        MemoryKind.FACT,
        0.7,
        "I live in {place}",
    ),
    (
        "work",
        re.compile(r"\bI\s+work\s+(?P<how>at|for|as)\s+(?P<what>[\w\s,&'-]{2,60}?)\s*$", re.I),
        MemoryKind.FACT,
        0.6,
        "I work {how} {what}",
    ),
    (
        "preference",
        re.compile(
            r"\bI\s+(?P<verb>really\s+)?(?P<how>love|like|prefer|enjoy|hate|dislike|can'?t stand)\s+(?P<what>[\w\s,'-]{2,60}?)\s*$",
            re.I,
        ),
        MemoryKind.PREFERENCE,
        0.6,
        "I {how} {what}",
    ),
]


class RuleExtractor:
    """The built-in, rule-based :class:`Extractor`: precise rather than exhaustive."""

    def extract(self, text: str) -> list[ExtractedFact]:
        facts: list[ExtractedFact] = []
        seen: set[str] = set()
        for sentence in _SENTENCES.split(text or ""):
            sentence = sentence.strip()
            if len(sentence) < 4 or sentence.endswith("?"):
                continue  # a question states nothing
            sentence = sentence.rstrip(".!").strip()
            for rule, pattern, kind, importance, template in _RULES:
                match = pattern.search(sentence)
                if match is None:
                    continue
                values = {k: (v or "").strip() for k, v in match.groupdict().items()}
                fact = _tidy(template.format(**values))
                if fact.lower() not in seen:
                    seen.add(fact.lower())
                    facts.append(ExtractedFact(text=fact, kind=kind, importance=importance, rule=rule))
                break  # one fact per sentence: the first (most specific) rule wins
        return facts


def _tidy(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip(" ,")
    text = re.sub(r"\bmy\s+my\b", "my", text, flags=re.I)
    return text[:1].upper() + text[1:]


_DEFAULT = RuleExtractor()


def extract_facts(text: str) -> list[ExtractedFact]:
    """Facts stated in ``text``, found by the built-in rules."""
    return _DEFAULT.extract(text)
