"""Local planning without trusting the local model: which skill does the person mean, if
any, and with which arguments.

Two sources of evidence, as in Rasa's pipeline:

- a **classifier** over the sentence embeddings: multinomial logistic regression trained
  at start-up on every skill's example utterances plus a shipped **out-of-scope** class
  (open questions, writing requests, near-misses that use a skill's words; see
  ``_out_of_scope.py``), with ``class_weight="balanced"`` so the large out-of-scope class
  does not drown a skill with five examples. Its probabilities come from the log loss it
  minimises (a recalibration with ``CalibratedClassifierCV`` was measured and made it
  worse on so few examples a class). The cosine to the
  skill's nearest example is kept as a second, model-free guard (CLINC150's lesson:
  an utterance far from everything is out of scope whatever the softmax says);
- **patterns** that match the whole utterance, with typed slots: a slot whose converter
  rejects it ("Celsius" is not a language) makes the pattern fall through to the next.

:func:`decide` turns both into one of three outcomes, like Rasa's FallbackClassifier:
act, ask back (a skill that changes something, matched with middling confidence), or
let the model answer. The core is sans-I/O: :class:`IntentMatcher` only adds the
embedding calls around it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..errors import QiraError
from ..sdk import InvalidArguments, Skill
from ._decide import Classification, Decision, IntentMatch, Thresholds, decide
from ._intent_model import IntentClassifier, Speller
from ._out_of_scope import OUT_OF_SCOPE
from ._utterance import (
    NOTHING,
    Mood,
    about_the_person,
    asks_for_writing,
    lead_word,
    mood,
    names_nothing,
    negated_verb,
    normalize,
)

log = logging.getLogger("qira.agent.intent")

__all__ = [
    "OUT_OF_SCOPE_LABEL",
    "Classification",
    "Decision",
    "IntentClassifier",
    "IntentMatch",
    "IntentMatcher",
    "Thresholds",
    "decide",
    "normalize",
]

OUT_OF_SCOPE_LABEL = "out_of_scope"


# The same skills and embedder train the same classifier: an agent rebuilt in the same
# process (a restart in tests, `qira ask` after a reload) reuses it. Read-only once made.
_TRAINED: dict[tuple[Any, ...], IntentClassifier] = {}
_TRAINED_KEEP = 8
EMBED_BATCH = 64


async def _in_daemon_thread(fn: Any, *args: Any) -> Any:
    """Run ``fn`` in a daemon thread: unlike ``asyncio.to_thread``, a process shutting down
    does not wait for a training it no longer needs."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Any] = loop.create_future()

    def work() -> None:
        def settle(result: Any, error: BaseException | None) -> None:
            if not done.done():
                done.set_exception(error) if error is not None else done.set_result(result)

        try:
            outcome: tuple[Any, BaseException | None] = (fn(*args), None)
        except BaseException as exc:  # handed to the awaiting task
            outcome = (None, exc)
        try:
            loop.call_soon_threadsafe(settle, *outcome)
        except RuntimeError:
            pass  # the loop closed meanwhile (the hub shut down): nobody waits for it

    threading.Thread(target=work, name="qira-intent-training", daemon=True).start()
    return await done


class _Embedder(Protocol):
    async def embed(self, texts: list[str]) -> Any: ...


class IntentMatcher:
    """Classify utterances against a set of skills: ``await matcher.classify(text)``."""

    def __init__(
        self,
        skills: Iterable[Skill],
        embedder: _Embedder,
        *,
        thresholds: Thresholds | None = None,
        out_of_scope: Iterable[str] = OUT_OF_SCOPE,
        cache: Path | None = None,
    ) -> None:
        self._skills = {s.name: s for s in skills}
        self._embedder = embedder
        self.thresholds = thresholds or Thresholds()
        self._out_of_scope = tuple(out_of_scope)
        self._cache = cache  # the training vectors, kept between runs (a .npz file)
        self._classifier: IntentClassifier | None = None
        self._speller: Speller | None = None
        self._ready: asyncio.Future[None] | None = None
        self._generation = 0
        self._patterns = {s.name: [_parse_pattern(p) for p in s.patterns] for s in self._skills.values()}

    @property
    def skills(self) -> Mapping[str, Skill]:
        return self._skills

    async def prepare(self) -> None:
        """Embed every example and train the classifier (the first call loads the embedding model)."""
        if self._ready is None:
            self._ready = asyncio.ensure_future(self._prepare())
        await asyncio.shield(self._ready)

    async def _prepare(self) -> None:
        generation = self._generation
        labels, texts = [], []
        for s in self._skills.values():
            for example in s.examples:
                labels.append(s.name)
                texts.append(normalize(example) or example)
        if not labels:
            return
        for text in self._out_of_scope:
            labels.append(OUT_OF_SCOPE_LABEL)
            texts.append(text)
        key = (id(self._embedder), tuple(labels), tuple(texts))
        speller = Speller(texts + [p for s in self._skills.values() for p in s.patterns], self._known())
        trained = _TRAINED.get(key)
        if trained is None:
            vectors = await asyncio.to_thread(_load_vectors, self._cache, texts)
            if vectors is None:
                # in batches: a hub shutting down cancels this between two, not after all of them
                parts = [
                    np.asarray(await self._embedder.embed(texts[i : i + EMBED_BATCH]), dtype=np.float32)
                    for i in range(0, len(texts), EMBED_BATCH)
                ]
                vectors = np.concatenate(parts)
                await asyncio.to_thread(_save_vectors, self._cache, texts, vectors)
            trained = await _in_daemon_thread(IntentClassifier, labels, vectors, texts)
            if len(_TRAINED) >= _TRAINED_KEEP:
                _TRAINED.pop(next(iter(_TRAINED)))
            _TRAINED[key] = trained
        if generation == self._generation:
            self._classifier = trained
            self._speller = speller

    def _known(self) -> frozenset[str]:
        """English words the embedder knows (none when it cannot say): never read as typos."""
        vocabulary = getattr(self._embedder, "vocabulary", None)
        if vocabulary is None:
            return frozenset()
        try:
            return frozenset(vocabulary())
        except QiraError as exc:
            log.info("no vocabulary for typo repair: %s", exc)
            return frozenset()

    def reading(self, text: str) -> str:
        """The utterance as the classifier reads it: normalised, typos and shorthand repaired."""
        clean = normalize(text) or text
        return self._speller.fix(clean) if self._speller is not None else clean

    async def warm(self) -> None:
        """Load the embedding model (a skill resumed after an approval should not pay for it
        inside its own timeout)."""
        try:
            await self._embedder.embed(["warm up"])
        except QiraError as exc:
            log.warning("cannot load the embedding model: %s", exc)

    async def add(self, skills: Iterable[Skill]) -> None:
        """Classify against skills added while running (an MCP server's tools) from now on."""
        new = [s for s in skills if s.name not in self._skills]
        for skill in new:
            self._skills[skill.name] = skill
            self._patterns[skill.name] = [_parse_pattern(p) for p in skill.patterns]
        if new:
            self._retrain()

    def remove(self, names: Iterable[str]) -> None:
        gone = [name for name in names if name in self._skills]
        for name in gone:
            del self._skills[name]
            self._patterns.pop(name, None)
        if gone:
            self._retrain()

    def _retrain(self) -> None:
        # The classifier is trained on every skill at once: the next classify() trains it
        # again (the examples already embedded come from the in-process and on-disk caches).
        self._generation += 1  # a training still running for the old set is not used
        self._ready = None

    async def embed(self, text: str) -> Any:
        """The vector :meth:`classify` uses (of the normalised text); recall reuses it."""
        return (await self._embedder.embed([self.reading(text)]))[0]

    async def embed_many(self, texts: Sequence[str]) -> Any:
        """Vectors for many utterances in one batch (evaluation)."""
        return await self._embedder.embed([self.reading(t) for t in texts])

    async def classify(self, text: str, *, vector: Any = None) -> Classification:
        """Rank the skills for ``text`` and decide. Without the embedding model (it failed to
        load) only the patterns count."""
        embedded = True
        try:
            await self.prepare()
            if self._classifier is not None and vector is None and normalize(text):
                vector = await self.embed(text)
        except QiraError as exc:
            log.warning("intent matching without embeddings: %s", exc)
            self._ready = None  # try loading again next time
            vector = None
        if self._classifier is None or vector is None:
            embedded = False
        return self.classify_vector(text, vector if embedded else None)

    def classify_vector(self, text: str, vector: Any) -> Classification:
        """The sans-I/O core of :meth:`classify` (``vector`` None: patterns only)."""
        clean = normalize(text)
        probs: dict[str, float] = {}
        sims: dict[str, float] = {}
        embedded = vector is not None and self._classifier is not None
        if embedded:
            assert self._classifier is not None
            probs = self._classifier.probabilities(vector, self.reading(text))
            sims = self._classifier.similarities(vector)
        out_of_scope = probs.get(OUT_OF_SCOPE_LABEL, 0.0)
        candidates = []
        for name in self._skills:
            found = self.extract(name, clean)
            candidates.append(
                IntentMatch(
                    skill=name,
                    score=round(probs.get(name, 0.0), 4),
                    arguments=found,
                    similarity=round(sims.get(name, 0.0), 4),
                    pattern=found is not None,
                )
            )
        candidates.sort(key=lambda m: (-m.score, not m.pattern, -m.similarity))
        about_me = about_the_person(text)
        decision, skill, reason = decide(
            candidates,
            out_of_scope,
            self._skills,
            thresholds=self.thresholds,
            embedded=embedded,
            mood=Mood.QUESTION if about_me else mood(text),
            about_me=about_me,
            negated=negated_verb(text),
            lead=lead_word(text),
            no_words_to_keep=asks_for_writing(text) or names_nothing(text),
        )
        return Classification(
            text=text,
            candidates=tuple(candidates),
            out_of_scope=round(out_of_scope, 4),
            decision=decision,
            skill=skill,
            reason=reason,
        )

    async def match(self, text: str, *, k: int = 3, vector: Any = None) -> list[IntentMatch]:
        """The ``k`` likeliest skills, best first (the candidates of :meth:`classify`)."""
        return list((await self.classify(text, vector=vector)).candidates[:k])

    def extract(self, skill: str, text: str) -> dict[str, str] | None:
        """Slot values from the first of the skill's patterns that matches the whole utterance
        with slots that convert (typed parameters, and the skill's slot converters). Every
        split of the words between slots is tried: "remind me to call the bank in 20 minutes"
        gives ``when="20 minutes"`` although "bank in 20 minutes" came first."""
        clean = normalize(text)
        s = self._skills.get(skill)
        if s is None:
            return None
        for parts in self._patterns.get(skill, ()):
            found = _match(parts, clean, 0, {}, s)
            if found is not None:
                return found  # otherwise: "what is 100 fahrenheit in celsius" — celsius is no language
        return None


def _digest(texts: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(texts).encode()).hexdigest()


def _load_vectors(path: Path | None, texts: Sequence[str]) -> np.ndarray | None:
    """The cached training vectors, if they were made from exactly these texts."""
    if path is None or not path.is_file():
        return None
    try:
        with np.load(path) as data:
            if str(data["digest"]) != _digest(texts) or data["vectors"].shape[0] != len(texts):
                return None
            return np.asarray(data["vectors"], dtype=np.float32)
    except (OSError, ValueError, KeyError) as exc:  # a broken cache is rebuilt, never fatal
        log.info("intent vector cache unreadable (%s): embedding again", exc)
        return None


def _save_vectors(path: Path | None, texts: Sequence[str], vectors: np.ndarray) -> None:
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, digest=np.array(_digest(texts)), vectors=vectors)
        os.replace(tmp, path)
    except OSError as exc:
        log.info("could not cache the intent vectors: %s", exc)


_SLOT = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_EMPTY = r"\s*"


def _parse_pattern(pattern: str) -> list[tuple[str, Any]]:
    """ "remind me {when} to {text}" -> literal regexes and slot names, in order."""
    parts: list[tuple[str, Any]] = []
    last = 0
    for m in _SLOT.finditer(pattern):
        parts.append(("lit", _literal(pattern[last : m.start()])))
        parts.append(("slot", m.group(1)))
        last = m.end()
    parts.append(("lit", _literal(pattern[last:])))
    return parts


# Between words, a run of whitespace or a separator people type instead: "jot down: milk",
# "new note - trip ideas", "reminder, call mum at 6" match "jot down {text}" and the like.
# A separator written in the pattern ("note: {text}") is required, though: "make a note in your
# memory that ..." is no "make a note: {text}".
_SEPARATORS = ":;,\u2013\u2014-"
_GAP = r"(?:\s*[:;,\u2013\u2014-]+\s*|\s+)"
_SEPARATOR = r"\s*[:;,\u2013\u2014-]+\s*"


def _literal(text: str) -> re.Pattern[str]:
    # spaces in a pattern match any gap (none at the very edges of the utterance)
    if not text.strip():
        return re.compile(_EMPTY)
    words = text.split(" ")
    out = re.escape(words[0].rstrip(_SEPARATORS))
    for i, word in enumerate(words[1:], 1):
        before = words[i - 1]
        gap = _SEPARATOR if before and before[-1] in _SEPARATORS else _GAP
        if word.strip(_SEPARATORS) or i == len(words) - 1:
            out += gap + re.escape(word.rstrip(_SEPARATORS))
    return re.compile(out, re.IGNORECASE)


def _match(
    parts: Sequence[tuple[str, Any]], text: str, pos: int, found: dict[str, str], skill: Skill
) -> dict[str, str] | None:
    if not parts:
        return dict(found) if pos == len(text) else None
    kind, value = parts[0]
    if kind == "lit":
        m = value.match(text, pos)
        return _match(parts[1:], text, m.end(), found, skill) if m else None
    following = parts[1][1] if len(parts) > 1 else None
    if following is None or following.pattern == _EMPTY:  # the slot runs to the end
        ends = [len(text)]
    else:  # each place the next literal could start, shortest slot first
        ends = [m.start() for m in following.finditer(text, pos + 1)]
    for end in ends:
        piece = text[pos:end].strip(" \"'" + _SEPARATORS)
        if not piece or not _slot_converts(skill, value, piece):
            continue
        found[value] = piece
        out = _match(parts[1:], text, end, found, skill)
        if out is not None:
            return out
        del found[value]
    return None


def _slot_converts(skill: Skill, name: str, value: str) -> bool:
    if value.lower().strip(" .,!?") in NOTHING:  # "forget it" is a dismissal, not a topic
        return False
    check = skill.slots.get(name)
    param = next((p for p in skill.params if p.name == name), None)
    try:
        if check is not None and check(value) is None:
            return False
        if param is not None:
            param.coerce(value)
    except (ValueError, TypeError, InvalidArguments):
        return False
    return True
