"""Small words for answers, so every skill and the hub say them the same way:
``plural(1, "note")`` -> "1 note", ``your("phone")`` -> "your phone",
``arrival("home")`` -> "when you get home", ``clip("...", 120)`` cut at a sentence or word.
"""

from __future__ import annotations

import re

__all__ = ["arrival", "clip", "duration", "plural", "your"]

_IRREGULAR = {
    "memory": "memories",
    "entry": "entries",
    "reply": "replies",
    "person": "people",
    "child": "children",
    "battery": "batteries",
    "inch": "inches",
    "match": "matches",
}
# places one "gets" without "to the": "when you get home", "when you get to work"
_NO_ARTICLE = {
    "work",
    "school",
    "church",
    "class",
    "bed",
    "town",
    "college",
    "university",
    "uni",
    "lunch",
    "dinner",
    "practice",
    "training",
    "mass",
    "hospital",
}
_ARTICLES = ("the ", "a ", "an ", "my ", "your ", "our ", "his ", "her ", "their ")


def plural(n: int | float, word: str, many: str | None = None) -> str:
    """ "1 note", "2 notes", "3 memories" (``many`` for an irregular plural the table lacks)."""
    if n == 1:
        return f"{n:g} {word}"
    if many is None:
        many = _IRREGULAR.get(word)
    if many is None:
        if re.search(r"[^aeiou]y$", word):
            many = word[:-1] + "ies"
        elif re.search(r"(s|x|z|ch|sh)$", word):
            many = word + "es"
        else:
            many = word + "s"
    return f"{n:g} {many}"


def duration(n: int, unit: str) -> str:
    """An adjective for a length of time: ``duration(10, "second")`` -> "10-second"."""
    return f"{n}-{unit}"


def your(name: str) -> str:
    """A device or thing the person owns, named once: "your phone", but "my-watch" stays
    as it is named ("Sent to my-watch", not "your my-watch")."""
    clean = name.strip()
    lowered = clean.lower()
    if lowered.startswith(("my ", "my-", "my_", "your ", "the ")) or "'s" in lowered or "’s" in lowered:
        return clean
    return f"your {clean}"


def arrival(place: str) -> str:
    """ "when you get home", "when you get to work", "when you get to the store"."""
    p = place.strip()
    lowered = p.lower()
    if lowered in ("home", "back home", "there", "here"):
        return f"when you get {lowered}"
    if lowered in _NO_ARTICLE or lowered.startswith(_ARTICLES) or p[:1].isupper():
        return f"when you get to {p}"
    return f"when you get to the {p}"


def clip(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut after the last whole sentence that fits, else at
    the last whole word (with an ellipsis). Never mid-word."""
    text = text.strip()
    if len(text) <= limit:
        return text
    head = text[: limit + 1]
    sentence_ends = [m.end() for m in re.finditer(r"[.!?…](?=\s|$)", head)]
    if sentence_ends and sentence_ends[-1] >= limit // 3:
        return head[: sentence_ends[-1]].strip()
    cut = head[:limit].rstrip()
    space = cut.rfind(" ")
    if space > 0 and not head[limit : limit + 1].isspace():
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"
