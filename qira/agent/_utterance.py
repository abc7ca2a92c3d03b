"""Reading an utterance before classifying it: politeness stripped, the grammatical mood
(a command, a "can you ...?" request, or a question), and whether it asks about the person.

Sans I/O, no model: regular expressions over the words, kept small because every rule here
applies to every skill, first-party or not.
"""

from __future__ import annotations

import enum
import re

__all__ = [
    "NOTHING",
    "Mood",
    "about_the_person",
    "asks_for_writing",
    "lead_word",
    "mood",
    "names_nothing",
    "negated_verb",
    "normalize",
]

_PREFIXES = re.compile(
    r"^(?:(?:hey|ok|okay|hi)\s+qira\b|qira\b|please\b|can you\b|could you\b|would you\b|will you\b|"
    r"i want you to\b|i'd like you to\b|i would like you to\b|kindly\b)[\s,:]*",
    re.IGNORECASE,
)
# "ok remember this", "so, what's my sister's name": a filler before the words that matter
_FILLERS = re.compile(r"^(?:ok|okay|alright|all right|so|well|um+|uh+|hm+)[\s,]+(?=\S)", re.IGNORECASE)
_SUFFIXES = re.compile(r"(?:[\s,]+(?:please|thanks|thank you|qira))?[\s.!?]*$", re.IGNORECASE)


def normalize(text: str) -> str:
    """Drop the wake word, politeness and end punctuation; keep the words and their case."""
    out = " ".join(text.split())
    while True:
        stripped = _FILLERS.sub("", _PREFIXES.sub("", out, count=1), count=1)
        if stripped == out:
            break
        out = stripped
    return _SUFFIXES.sub("", out)


_QUESTION = re.compile(
    r"^(?:how|why|what|what's|whats|which|who|whom|whose|when|where|is|are|was|were|does|do|did|"
    r"should|shall|may|might|can i|could i|can we|is there|are there)\b",
    re.IGNORECASE,
)
_REQUEST = re.compile(r"^(?:can|could|would|will)\s+you\b", re.IGNORECASE)
# "remember when we went to the beach?", "remember the time you ...": reminiscing, not a request
_REMINISCING = re.compile(r"^(?:do\s+you\s+)?remember\s+(?:when|the\s+time|that\s+time)\b", re.IGNORECASE)


class Mood(enum.StrEnum):
    COMMAND = "command"  # "set a timer for 5 minutes"
    ASKING = "asking"  # "can you remind me ...?", "can you remember things?": a request or a question
    QUESTION = "question"  # "how do I set a timer on my microwave": never a request to change something


def mood(text: str) -> Mood:
    raw = " ".join(text.split())
    if _REQUEST.match(raw):
        return Mood.ASKING if raw.endswith("?") else Mood.COMMAND
    clean = normalize(raw)
    if raw.endswith("?") or _QUESTION.match(clean) or _REMINISCING.match(clean):
        return Mood.QUESTION
    return Mood.COMMAND


# A question about the person: "where do I live", "what's my sister's name", "am I allergic
# to anything", "do you know my blood group", "remind me what my locker number is". Not a
# how-to or advice question that happens to say "I" ("how do I reset my router", "what
# should I cook", "why is my phone slow"): those are for the model.
_WH = (
    r"what|what's|whats|what is|what are|what was|where|where's|wheres|where is|where are|when|"
    r"when's|whens|when is|when was|who|who's|whos|who is|who are|whom|whose|which|how old|how many|"
    r"how much|how long|how tall"
)
_ABOUT_ME = re.compile(
    rf"^(?:(?:(?:in|at|on|for|from|to|with)\s+)?(?:{_WH})\b.*\b(?:i|i'm|im|my|me|mine)\b"
    r"|(?:do|did|am|was|have|had|is|are|were)\s+(?:i|my)\b"
    r"|(?:do|did|can|could)\s+you\s+(?:know|remember|recall|tell me)\s+(?:what|where|when|who|which|whose|how|if|my)\b"
    r"|(?:remind|tell)\s+me\s+(?:what|where|when|who|which|whose|how old|my)\b.*\b(?:i|my|me)\b"
    r"|how\s+do\s+i\s+(?:like|prefer|take|usually|normally|always|drink|eat)\b.*\bmy\b)",
    re.IGNORECASE,
)
_ADVICE = re.compile(
    r"\b(?:should|could|can|would|might|must|shall)\s+(?:i|we)\b|^why\b|^how\s+to\b|\bif\s+(?:i|my)\b",
    re.IGNORECASE,
)


def about_the_person(text: str) -> bool:
    """Does the utterance ask about the person (what they told Qira), not about the world?"""
    clean = normalize(text).lower().replace("\u2019", "'")
    return bool(_ABOUT_ME.match(clean)) and not _ADVICE.search(clean)


# "don't remind me", "stop remembering that ...", "you no longer need to remember ...", "I
# can't remember ...": the negation reverses or voids the request ("don't forget that ..."
# is the idiom that does not).
_NEGATED = re.compile(
    r"^(?:you\s+|i\s+)?(?:(?:don't|dont|do\s+not|never|no\s+longer|needn't|can't|cant|cannot|can\s+not|couldn't)"
    r"(?:\s+(?:need|have)\s+to)?|stop|no\s+need\s+to|can\s+stop)\s+([a-z]+)",
    re.IGNORECASE,
)


def negated_verb(text: str) -> str | None:
    """The stem of the verb a negated request starts with ("reme" for "stop remembering ..."),
    or None when it is not one."""
    m = _NEGATED.match(normalize(text).lower().replace("\u2019", "'"))
    return m.group(1)[:4] if m else None


def lead_word(text: str) -> str | None:
    """The first word once politeness is gone: a command's verb, most of the time."""
    words = normalize(text).lower().split()
    return words[0] if words else None


# "jot down some ideas for a party", "write down the steps to bake a cake", "note the
# differences between TCP and UDP": the words ask for something to be written, by the model,
# not for the person's own words to be kept. Not when they dictate ("note: the steps are
# loose", "jot down three ideas: balloons, cake, music").
_WRITING = re.compile(
    r"^(?:write|jot|note|list|put|draft|make|take\s+note\s+of|make\s+a\s+note\s+of|add\s+a\s+note\s+with)"
    r"(?:\s+down)?\s+(?:me\s+)?(?:some|a\s+few|a\s+couple\s+of|a\s+(?:short\s+)?list\s+of|\d+|two|three|four|five|six|seven|eight|"
    r"nine|ten|twenty|the)\s+(?:(?:good|great|fun|creative|simple|quick|easy|useful|cool|new|possible|main|key|"
    r"best|basic)\s+)?(?:ideas|tips|suggestions|steps|ways|reasons|examples|names|questions|facts|options|jokes|"
    r"recipes|pros\s+and\s+cons|arguments|differences|benefits|rules)\b(?!\s*:)(?!\s+(?:is|are|was|were)\b)",
    re.IGNORECASE,
)


def asks_for_writing(text: str) -> bool:
    """Does the utterance ask for content to be written (a list of ideas, the steps to
    something) rather than give the person's own words to keep?"""
    clean = normalize(text)
    return _WRITING.match(clean) is not None


# Words that name nothing by themselves: "forget it" is a dismissal, "ok remember this" says
# nothing to remember.
NOTHING = frozenset({"it", "that", "this", "them", "these", "those", "something", "stuff", "things"})
_FILLER_WORDS = frozenset({"down", "me", "up", "about", "of", "to", "a", "note", "all", "please"})


def names_nothing(text: str) -> bool:
    """After its first word (the verb), does the utterance hold only words that name
    nothing ("remember this", "write that down", "save it")?"""
    words = [w.strip(".,!?") for w in normalize(text).lower().split()[1:]]
    content = [w for w in words if w and w not in _FILLER_WORDS]
    return bool(content) and len(content) <= 2 and all(w in NOTHING for w in content)
