"""Local planning without trusting the local model: which skill does the person mean
(embeddings over each skill's example utterances, plus its patterns), and with
which arguments (the patterns' slots)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import QiraError
from ..sdk import Skill

log = logging.getLogger("qira.agent.intent")

__all__ = ["IntentMatch", "IntentMatcher", "confident", "normalize"]

PATTERN_SCORE = 0.9  # a pattern that matches the whole utterance is near-certain

_PREFIXES = re.compile(
    r"^(?:(?:hey|ok|okay|hi)\s+qira\b|qira\b|please\b|can you\b|could you\b|would you\b|will you\b|"
    r"i want you to\b|i'd like you to\b|i would like you to\b|kindly\b)[\s,:]*",
    re.IGNORECASE,
)
_SUFFIXES = re.compile(r"(?:[\s,]+(?:please|thanks|thank you))?[\s.!?]*$", re.IGNORECASE)


def normalize(text: str) -> str:
    """Drop the wake word, politeness and end punctuation; keep the words and their case."""
    out = " ".join(text.split())
    while True:
        stripped = _PREFIXES.sub("", out, count=1)
        if stripped == out:
            break
        out = stripped
    return _SUFFIXES.sub("", out)


def confident(matches: list[Any], *, threshold: float, floor: float, margin: float) -> bool:
    """Act on the best match? Yes when it is strong, or when it is fair and clearly ahead
    of the runner-up (MiniLM scores paraphrases low when content words dominate)."""
    if not matches:
        return False
    top = _score(matches[0])
    second = _score(matches[1]) if len(matches) > 1 else 0.0
    return top >= threshold or (top >= floor and top - second >= margin)


def _score(m: Any) -> float:
    return float(m["score"] if isinstance(m, Mapping) else m.score)


class _Embedder(Protocol):
    async def embed(self, texts: list[str]) -> Any: ...


@dataclass(frozen=True, kw_only=True)
class IntentMatch:
    skill: str
    score: float  # 0..1
    arguments: Mapping[str, str] | None = field(default=None)  # from a pattern, when one matched


class IntentMatcher:
    def __init__(self, skills: Iterable[Skill], embedder: _Embedder) -> None:
        self._skills = {s.name: s for s in skills}
        self._embedder = embedder
        self._owners: list[str] = []
        self._matrix: Any = None
        self._ready: asyncio.Future[None] | None = None
        self._patterns = {s.name: s.pattern_regexes() for s in self._skills.values()}

    async def prepare(self) -> None:
        """Embed every example once (the first call loads the embedding model)."""
        if self._ready is None:
            self._ready = asyncio.ensure_future(self._prepare())
        await asyncio.shield(self._ready)

    async def _prepare(self) -> None:
        owners, texts = [], []
        for s in self._skills.values():
            for example in s.examples:
                owners.append(s.name)
                texts.append(example)
        self._owners = owners
        self._matrix = await self._embedder.embed(texts) if texts else None

    async def add(self, skills: Iterable[Skill]) -> None:
        """Match skills added while running (an MCP server's tools) from now on."""
        new = [s for s in skills if s.name not in self._skills]
        if self._ready is None:  # not embedded yet: prepare() will include them
            self._add_names(new)
            return
        await self.prepare()
        owners = [s.name for s in new for _ in s.examples]
        texts = [e for s in new for e in s.examples]
        vectors = await self._embedder.embed(texts) if texts else None
        self._add_names(new)
        if vectors is not None:  # owners and matrix change together: match() may run in between awaits
            import numpy as np

            matrix = vectors if self._matrix is None else np.vstack([self._matrix, vectors])
            self._owners, self._matrix = [*self._owners, *owners], matrix

    def _add_names(self, skills: list[Skill]) -> None:
        for s in skills:
            self._skills[s.name] = s
            self._patterns[s.name] = s.pattern_regexes()

    def remove(self, names: Iterable[str]) -> None:
        gone = set(names)
        keep = [i for i, owner in enumerate(self._owners) if owner not in gone]
        if self._matrix is not None and len(keep) != len(self._owners):
            self._owners, self._matrix = [self._owners[i] for i in keep], (self._matrix[keep] if keep else None)
        for name in gone:
            self._skills.pop(name, None)
            self._patterns.pop(name, None)

    async def embed(self, text: str) -> Any:
        """The vector :meth:`match` compares (of the normalised text); recall reuses it."""
        return (await self._embedder.embed([normalize(text) or text]))[0]

    async def match(self, text: str, *, k: int = 3, vector: Any = None) -> list[IntentMatch]:
        """The ``k`` likeliest skills, best first. Without the embedding model (it failed to
        load) only the patterns count."""
        clean = normalize(text)
        scores: dict[str, float] = {name: 0.0 for name in self._skills}
        try:
            await self.prepare()
            if self._matrix is not None and clean and vector is None:
                vector = await self.embed(text)
        except QiraError as exc:
            log.warning("intent matching without embeddings: %s", exc)
            self._ready = None  # try loading again next time
            vector = None
        if self._matrix is not None and vector is not None:
            for owner, sim in zip(self._owners, (self._matrix @ vector).tolist(), strict=True):
                if sim > scores.get(owner, 0.0):
                    scores[owner] = float(sim)
        pattern_args: dict[str, dict[str, str]] = {}
        for name in self._skills:
            found = self.extract(name, clean)
            if found is not None:
                pattern_args[name] = found
                scores[name] = max(scores[name], PATTERN_SCORE + 0.01 * min(len(found), 5))
        ranked = sorted(scores.items(), key=lambda item: -item[1])[:k]
        return [IntentMatch(skill=n, score=round(s, 4), arguments=pattern_args.get(n)) for n, s in ranked]

    def extract(self, skill: str, text: str) -> dict[str, str] | None:
        """Slot values from the first of the skill's patterns that matches the whole utterance."""
        clean = normalize(text)
        for regex in self._patterns.get(skill, ()):
            m = regex.fullmatch(clean)
            if m:
                return {k: v.strip(" \"'") for k, v in m.groupdict().items() if v and v.strip()}
        return None
