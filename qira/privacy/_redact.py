"""Redact-then-offload: typed placeholders out, real values back in.

``redact`` replaces each item of a :class:`Scan` with ``<KIND_n>`` (the same value
gets the same placeholder everywhere in the conversation). ``Restorer`` puts the
values back into a streamed answer: it holds back the end of a chunk that could be
the start of a placeholder, so one split across chunks ("<PHO", "NE_1>") is still
found, and it accepts the forms models write them in (``<PHONE_1>``, ``PHONE_1``,
``[PHONE_1]``, ``&lt;PHONE_1&gt;``, any case), repeated or in any order.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ._kinds import PersonalData
from ._scan import Scan

__all__ = ["Redaction", "Restorer", "redact"]

_OPENERS = ("<", "[", "{", "&lt;", "(")
_MAX_HELD = 48


@dataclass(frozen=True, kw_only=True)
class Redaction:
    texts: tuple[str, ...]  # the conversation with placeholders
    values: Mapping[str, str] = field(default_factory=dict)  # "PHONE_1" -> the original text
    kinds: tuple[PersonalData, ...] = ()  # one per placeholder, in order of first appearance

    def describe(self) -> str:
        """ "2 items redacted: a name and a phone number"."""
        n = len(self.values)
        names: list[str] = []
        for kind in self.kinds:
            if kind.value not in names:
                names.append(kind.value)
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        return f"{n} item{'s' if n != 1 else ''} redacted: {listed}"

    def restorer(self) -> Restorer:
        return Restorer(self.values)


def redact(texts: Sequence[str], scan: Scan) -> Redaction:
    """Replace every item of ``scan`` in ``texts`` (the texts that were scanned)."""
    numbers: dict[PersonalData, int] = {}
    names: dict[tuple[PersonalData, str], str] = {}
    values: dict[str, str] = {}
    kinds: list[PersonalData] = []
    for item in scan.items:  # in conversation order: numbering follows first appearance
        key = (item.kind, item.text)
        if key not in names:
            numbers[item.kind] = numbers.get(item.kind, 0) + 1
            name = f"{item.kind.tag}_{numbers[item.kind]}"
            names[key] = name
            values[name] = item.text
            kinds.append(item.kind)
    out = list(texts)
    by_message: dict[int, list[tuple[int, int, str]]] = {}
    for item in scan.items:
        by_message.setdefault(item.message, []).append((item.start, item.end, names[(item.kind, item.text)]))
    for i, spans in by_message.items():
        text = out[i]
        for start, end, name in sorted(spans, reverse=True):
            text = text[:start] + f"<{name}>" + text[end:]
        out[i] = text
    return Redaction(texts=tuple(out), values=values, kinds=tuple(kinds))


class Restorer:
    """Feed it the answer chunk by chunk; it returns the text with values restored."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = {k.upper(): v for k, v in values.items()}
        self._buf = ""
        if self.values:
            names = "|".join(sorted((re.escape(k) for k in self.values), key=len, reverse=True))
            self._pattern: re.Pattern[str] | None = re.compile(
                r"(?:<|\[|\{|&lt;|\()\s*("
                + names
                + r")\s*(?:>|\]|\}|&gt;|\))|(?<![A-Za-z0-9])("
                + names
                + r")(?![A-Za-z0-9])",
                re.I,
            )
        else:
            self._pattern = None

    def feed(self, chunk: str) -> str:
        if self._pattern is None:
            return chunk
        self._buf += chunk
        cut = self._safe_cut(self._buf)
        out, self._buf = self._buf[:cut], self._buf[cut:]
        return self.restore(out)

    def flush(self) -> str:
        out, self._buf = self._buf, ""
        return self.restore(out)

    def restore(self, text: str, *, json_string: bool = False) -> str:
        """Values back in a complete text (``json_string``: escaped for the inside of a JSON string)."""
        if self._pattern is None:
            return text

        def value(m: re.Match[str]) -> str:
            v = self.values[(m.group(1) or m.group(2)).upper()]
            return json.dumps(v)[1:-1] if json_string else v

        return self._pattern.sub(value, text)

    def _safe_cut(self, buf: str) -> int:
        """Where the releasable text ends: before a tail that may still become a placeholder."""
        tail_start = max(len(buf) - _MAX_HELD, 0)
        for i in range(tail_start, len(buf)):
            rest = buf[i:]
            if self._could_start(rest):
                return i
        return len(buf)

    def _could_start(self, rest: str) -> bool:
        if any(opener.startswith(rest) for opener in _OPENERS):
            return True  # "&l" may become "&lt;"
        body = rest
        for opener in _OPENERS:
            if rest.startswith(opener):
                body = rest[len(opener) :].lstrip()
                break
        else:
            if not rest[:1].isalpha():
                return False
        up = body.upper()
        for name in self.values:
            if name.startswith(up) or (up.startswith(name) and _closing_prefix(up[len(name) :])):
                return True
            # a longer number may still come ("PHONE_1" then "2")
            if up.startswith(name[: name.rfind("_") + 1]) and up[name.rfind("_") + 1 :].isdigit():
                return True
        return False


def _closing_prefix(rest: str) -> bool:
    """``rest`` (after a full name) could still be whitespace and a closer being streamed."""
    stripped = rest.lstrip()
    return stripped == "" or stripped in (">", "]", "}", ")") or "&GT;".startswith(stripped.upper())
