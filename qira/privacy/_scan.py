"""Scan a whole conversation: every message, as one text, so nothing is judged out of context."""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass

from stdnum import luhn

from ._detect import find_all
from ._kinds import PersonalData
from ._normalize import Normalized, normalize

__all__ = ["Item", "Scan", "detect_personal_data", "scan_texts"]

_SEP = "\n\n"
# Which kind wins when two detectors claim overlapping text (the more specific one).
_PRIORITY = {
    k: i
    for i, k in enumerate(
        (
            PersonalData.CREDENTIAL,
            PersonalData.CARD,
            PersonalData.ACCOUNT,
            PersonalData.ID_NUMBER,
            PersonalData.EMAIL,
            PersonalData.PHONE,
            PersonalData.BIRTH_DATE,
            PersonalData.ADDRESS,
            PersonalData.PERSON,
            PersonalData.VEHICLE,
        )
    )
}
_TAIL_NUMBER = re.compile(r"(\d[\d ()./-]*\d)\D{0,12}$")
_HEAD_NUMBER = re.compile(r"^\D{0,60}?(\d[\d ()./-]*\d)")
_CARD_WORDS = ("card", "cartão", "cartao", "tarjeta", "karte", "carte", "visa", "mastercard")


@dataclass(frozen=True, kw_only=True)
class Item:
    """One item of personal data: where it is (message index, span of the text as typed)."""

    kind: PersonalData
    message: int
    start: int
    end: int
    text: str


@dataclass(frozen=True, kw_only=True)
class Scan:
    items: tuple[Item, ...] = ()
    topics: tuple[PersonalData, ...] = ()  # sensitive topics found (no span: they cannot be cut out)

    @property
    def kinds(self) -> tuple[PersonalData, ...]:
        found = {i.kind for i in self.items} | set(self.topics)
        return tuple(k for k in PersonalData if k in found)

    @property
    def found(self) -> bool:
        return bool(self.items or self.topics)

    @property
    def redactable(self) -> bool:
        """Every finding can be replaced by a placeholder (no sensitive topic)."""
        return not self.topics


def detect_personal_data(text: str) -> tuple[PersonalData, ...]:
    """The kinds of personal data in ``text``, in a stable order (empty when none)."""
    return scan_texts([text]).kinds


def scan_texts(texts: Sequence[str]) -> Scan:
    """Find personal data in ``texts`` (the messages of one conversation, in order)."""
    parts = [normalize(t) for t in texts]
    joined = _SEP.join(p.text for p in parts)
    offsets = [0]  # where each part starts in ``joined``
    for p in parts[:-1]:
        offsets.append(offsets[-1] + len(p.text) + len(_SEP))
    bases = [0]  # where each text starts in ``_SEP.join(texts)``
    for t in texts[:-1]:
        bases.append(bases[-1] + len(t) + len(_SEP))
    topics: set[PersonalData] = set()
    spans = _split_numbers(parts, bases)  # already in original offsets
    for kind, a, b in find_all(joined):
        if not kind.redactable:
            topics.add(kind)
            continue
        # map back part by part: a span may cross a message boundary
        for k in range(bisect.bisect_right(offsets, a) - 1, len(parts)):
            lo, hi = max(a, offsets[k]), min(b, offsets[k] + len(parts[k].text))
            if lo >= b:
                break
            if lo < hi:
                s0, e0 = parts[k].original_span(lo - offsets[k], hi - offsets[k])
                spans.append((kind, s0 + bases[k], e0 + bases[k]))
    items = _items(_merge(spans), texts, bases)
    return Scan(items=tuple(items), topics=tuple(k for k in PersonalData if k in topics))


def _split_numbers(parts: list[Normalized], bases: list[int]) -> list[tuple[PersonalData, int, int]]:
    """A card number typed in two messages ("4111 1111" ... "1111 1111"): each half alone is nothing."""
    out: list[tuple[PersonalData, int, int]] = []
    for i in range(len(parts) - 1):
        tail = _TAIL_NUMBER.search(parts[i].text)
        if tail is None:
            continue
        for j in range(i + 1, min(i + 3, len(parts))):
            head = _HEAD_NUMBER.search(parts[j].text)
            if head is None:
                continue
            a = "".join(c for c in tail.group(1) if c.isdigit())
            b = "".join(c for c in head.group(1) if c.isdigit())
            digits = a + b
            cue = any(w in (parts[i].text + parts[j].text).lower() for w in _CARD_WORDS)
            if len(a) >= 3 and len(b) >= 3 and 13 <= len(digits) <= 19 and (cue or luhn.is_valid(digits)):
                for part, base, m in ((parts[i], bases[i], tail), (parts[j], bases[j], head)):
                    s, e = part.original_span(*m.span(1))
                    out.append((PersonalData.CARD, s + base, e + base))
            break
    return out


def _merge(spans: list[tuple[PersonalData, int, int]]) -> list[tuple[PersonalData, int, int]]:
    spans.sort(key=lambda s: (s[1], -s[2]))
    merged: list[tuple[PersonalData, int, int]] = []
    for kind, a, b in spans:
        if merged and a < merged[-1][2]:
            k0, a0, b0 = merged[-1]
            best = k0 if _PRIORITY.get(k0, 99) <= _PRIORITY.get(kind, 99) else kind
            merged[-1] = (best, a0, max(b0, b))
        else:
            merged.append((kind, a, b))
    return merged


def _items(spans: list[tuple[PersonalData, int, int]], texts: Sequence[str], bases: list[int]) -> list[Item]:
    """Spans of the joined original, cut at message boundaries (a span may cross one)."""
    out: list[Item] = []
    for kind, a, b in spans:
        for i, base in enumerate(bases):
            lo, hi = max(a, base), min(b, base + len(texts[i]))
            if lo < hi:
                s, e = lo - base, hi - base
                fragment = texts[i][s:e]
                stripped = fragment.strip()
                if stripped:
                    s += len(fragment) - len(fragment.lstrip())
                    out.append(Item(kind=kind, message=i, start=s, end=s + len(stripped), text=stripped))
    return out
