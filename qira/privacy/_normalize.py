"""Text as the detector reads it, with a map back to the text as typed.

Personal data hides in forms a pattern does not expect: a card number in words,
an address with Cyrillic look-alike letters, an email spelled "at ... dot",
a zero-width space inside a phone number, ``\\u0040`` in a JSON string. Each pass
here rewrites such a form into the plain one and records, for every character of
the result, which span of the original it came from, so that a finding in the
normalised text redacts exactly the original characters.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from ._numbers import number_runs

__all__ = ["Normalized", "normalize"]

# Latin look-alikes (Unicode TR39 confusables) from Cyrillic and Greek: the ones that
# make a word read as Latin to a person while a regular expression sees another script.
_CONFUSABLES = str.maketrans(
    {
        "а": "a",
        "е": "e",
        "о": "o",
        "р": "p",
        "с": "c",
        "у": "y",
        "х": "x",
        "і": "i",
        "ј": "j",
        "ѕ": "s",
        "ԁ": "d",
        "һ": "h",
        "ӏ": "l",
        "ԛ": "q",
        "ԝ": "w",
        "ɡ": "g",
        "А": "A",
        "В": "B",
        "Е": "E",
        "К": "K",
        "М": "M",
        "Н": "H",
        "О": "O",
        "Р": "P",
        "С": "C",
        "Т": "T",
        "Х": "X",
        "У": "Y",
        "І": "I",
        "Ј": "J",
        "Ѕ": "S",
        "α": "a",
        "ο": "o",
        "ρ": "p",
        "ν": "v",
        "ι": "i",
        "κ": "k",
        "υ": "u",
        "τ": "t",
        "Α": "A",
        "Β": "B",
        "Ε": "E",
        "Ζ": "Z",
        "Η": "H",
        "Ι": "I",
        "Κ": "K",
        "Μ": "M",
        "Ν": "N",
        "Ο": "O",
        "Ρ": "P",
        "Τ": "T",
        "Υ": "Y",
        "Χ": "X",
        "ℓ": "l",
        "‐": "-",
        "‑": "-",
        "‒": "-",
        "–": "-",
        "—": "-",
        "−": "-",
        "﹫": "@",
        "＠": "@",
        "․": ".",
        "。": ".",
        "｡": ".",
    }
)
_ESCAPE = re.compile(
    r"\\u([0-9a-fA-F]{4})|\\x([0-9a-fA-F]{2})|&#(\d{2,6});|&#x([0-9a-fA-F]{2,6});"
    r"|&(commat|period|plus);"
)
_ENTITIES = {"commat": "@", "period": ".", "plus": "+"}
# The words stand alone (" at ", "(at)"), so "station" or "dotted" never read as symbols.
_AT = r"(?:\s+(?:at|arroba|arobase|chez)\s+|\s*[(\[{<]\s*(?:at|arroba|arobase|chez|@)\s*[)\]}>]\s*|\s*@\s*)"
_DOT = (
    r"(?:\s+(?:dot|ponto|punto|punkt|point)\s+|\s*[(\[{<]\s*(?:dot|ponto|punto|punkt|point|\.)\s*[)\]}>]\s*"
    r"|\s*\.\s*)"
)
_TLDS = (
    "com|org|net|edu|gov|mil|int|io|co|br|pt|es|de|fr|uk|us|eu|it|nl|ch|at|be|ca|au|mx|ar|cl|jp|in|ru|info|me|ai|"
    "app|dev|biz|online|email|mail|tech|xyz|name|pro|cat|gal|lu|ie|se|no|dk|fi|pl|cz|ao|mz"
)
_SPELLED_EMAIL = re.compile(
    r"(?<![\w.@])([A-Za-z0-9][\w+-]*(?:"
    + _DOT
    + r"[\w+-]+)*)"
    + _AT
    + r"([A-Za-z0-9][\w-]*(?:"
    + _DOT
    + r"[A-Za-z0-9][\w-]*)*?"
    + _DOT
    + r"(?:"
    + _TLDS
    + r"))\b",
    re.I,
)
_EMAIL_CUES = (" at ", "(at)", "[at]", "{at}", "<at>", "arroba", "arobase", " chez ", " @ ", "@ ", " @")
_DOT_WORD = re.compile(_DOT, re.I)
_AT_WORD = re.compile(_AT, re.I)


class Normalized:
    """The normalised text; ``starts[i]``/``ends[i]`` is the original span of character ``i``."""

    __slots__ = ("text", "_starts", "_ends")

    def __init__(self, text: str, starts: list[int] | None = None, ends: list[int] | None = None) -> None:
        self.text = text
        self._starts = starts  # None: the text is unchanged (the common case: no arrays to build)
        self._ends = ends

    @property
    def starts(self) -> list[int]:
        if self._starts is None:
            self._starts = list(range(len(self.text)))
        return self._starts

    @property
    def ends(self) -> list[int]:
        if self._ends is None:
            self._ends = list(range(1, len(self.text) + 1))
        return self._ends

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        if self._starts is None:
            return start, end
        return self.starts[start], self.ends[max(start, end - 1)]

    def sub(self, pattern: re.Pattern[str], repl: Callable[[re.Match[str]], str | None]) -> Normalized:
        """Replace matches (``repl`` returns the new text, or None to keep a match as it is)."""
        pieces: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        last = 0
        changed = False
        for m in pattern.finditer(self.text):
            new = repl(m)
            if new is None:
                continue
            changed = True
            a, b = m.span()
            pieces.append(self.text[last:a])
            starts.extend(self.starts[last:a])
            ends.extend(self.ends[last:a])
            pieces.append(new)
            if a < b:
                span_start, span_end = self.starts[a], self.ends[b - 1]
            else:
                span_start = span_end = self.starts[a] if a < len(self.starts) else (self.ends[-1] if self.ends else 0)
            starts.extend([span_start] * len(new))
            ends.extend([span_end] * len(new))
            last = b
        if not changed:
            return self
        pieces.append(self.text[last:])
        starts.extend(self.starts[last:])
        ends.extend(self.ends[last:])
        return Normalized("".join(pieces), starts, ends)

    def replace(self, spans: list[tuple[int, int, str]]) -> Normalized:
        """Replace each (start, end) with its text; spans in order and not overlapping."""
        pieces: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        last = 0
        for a, b, new in spans:
            pieces.append(self.text[last:a])
            starts.extend(self.starts[last:a])
            ends.extend(self.ends[last:a])
            pieces.append(new)
            starts.extend([self.starts[a]] * len(new))
            ends.extend([self.ends[b - 1]] * len(new))
            last = b
        pieces.append(self.text[last:])
        starts.extend(self.starts[last:])
        ends.extend(self.ends[last:])
        return Normalized("".join(pieces), starts, ends)


def normalize(text: str) -> Normalized:
    out = _characters(text)
    if "\\" in out.text or "&" in out.text:
        out = out.sub(_ESCAPE, _unescape)
    runs = number_runs(out.text)
    if runs:
        out = out.replace(runs)
    lower = out.text.lower()
    if any(cue in lower for cue in _EMAIL_CUES):
        out = out.sub(_SPELLED_EMAIL, _email)
    return out


def _characters(text: str) -> Normalized:
    """Compatibility forms (full-width digits, ligatures), look-alike letters, dashes;
    invisible format characters (zero-width space, soft hyphen, BOM) are dropped."""
    if text.isascii():
        return Normalized(text)
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for i, c in enumerate(text):
        if c.isascii():
            chars.append(c)
            starts.append(i)
            ends.append(i + 1)
            continue
        if unicodedata.category(c) == "Cf":
            continue
        mapped = c.translate(_CONFUSABLES)
        if mapped == c:
            mapped = unicodedata.normalize("NFKC", c)
            if unicodedata.category(c) == "Zs":
                mapped = " "
        for m in mapped:
            chars.append(m)
            starts.append(i)
            ends.append(i + 1)
    return Normalized("".join(chars), starts, ends)


def _unescape(m: re.Match[str]) -> str | None:
    u, x, dec, hexa, entity = m.groups()
    try:
        if entity:
            return _ENTITIES[entity]
        code = int(u or x or hexa, 16) if (u or x or hexa) else int(dec)
        return chr(code)
    except (ValueError, OverflowError):
        return None


# "look at example dot com" is a sentence, not an address
_NOT_LOCAL_PARTS = frozenset(
    "look looking looked stay staying meet meeting arrive arrived be is are am was were me us "
    "you him her them it this that here there home work not him see visit visiting".split()
)


def _email(m: re.Match[str]) -> str | None:
    if m.group(1).lower() in _NOT_LOCAL_PARTS:
        return None
    local = _DOT_WORD.sub(".", m.group(1))
    domain = _DOT_WORD.sub(".", m.group(2))
    return _AT_WORD.sub("@", local).replace(" ", "") + "@" + domain.replace(" ", "")
