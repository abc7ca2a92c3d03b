"""The trained part of intent matching, sans I/O: features, the classifier, typo repair.

Features, as Rasa's DIET classifier combines them: the dense sentence embedding (MiniLM,
384-d) next to **sparse lexical features** — TF-IDF over word unigrams and bigrams, and over
character 2-4-grams inside word boundaries. The embedding carries paraphrase ("buzz me
later" ~ "remind me"); the words carry the verbs a request hinges on ("forget", "jot",
"timer"), which the embedding of a short sentence blurs; the character n-grams carry
typos and inflections ("remmber", "reminders"). Measured by 5-fold cross-validation on the
round-1 training examples: 86% top-1 with the embedding alone, 88-89% with both.

Typo repair (:class:`Speller`): a word that is neither an English word the tokenizer
knows nor a word of the training text, and is one edit (a deletion, insertion,
substitution or transposition) from exactly the training words it could be, is read as
that word for classification only — the person's own words still fill the slots.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = ["IntentClassifier", "Speller"]

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"

# Chat shorthand, read as the words it stands for (for classification only).
SHORTHAND = {
    "pls": "please",
    "plz": "please",
    "thx": "thanks",
    "abt": "about",
    "rn": "right now",
    "whats": "what's",
    "hows": "how's",
    "wheres": "where's",
    "whens": "when's",
    "whos": "who's",
    "im": "i'm",
    "dont": "don't",
    "cant": "can't",
    "min": "minutes",
    "mins": "minutes",
    "sec": "seconds",
    "secs": "seconds",
    "hr": "hour",
    "hrs": "hours",
    "msg": "message",
    "tmrw": "tomorrow",
    "tmr": "tomorrow",
    "tomoz": "tomorrow",
    "2day": "today",
    "2morrow": "tomorrow",
    "btw": "by the way",
    "fyi": "for your information",
}


def _edits1(word: str) -> set[str]:
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    transposes = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    replaces = {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
    inserts = {a + c + b for a, b in splits for c in _LETTERS}
    return deletes | transposes | replaces | inserts


class Speller:
    """Reads typos and shorthand as the training words they stand for."""

    def __init__(self, training_texts: Iterable[str], known: Iterable[str] = ()) -> None:
        self.counts: Counter[str] = Counter(w for t in training_texts for w in _WORD.findall(t.lower()))
        self.known = frozenset(known) | frozenset(self.counts)

    def word(self, word: str) -> str:
        low = word.lower()
        if low in SHORTHAND:
            return SHORTHAND[low]
        if len(low) < 4 or low in self.known or not low.isalpha():
            return word
        near = [w for w in _edits1(low) if w in self.counts]
        if not near:
            return word
        return max(near, key=lambda w: (self.counts[w], w))

    def fix(self, text: str) -> str:
        return re.sub(r"[A-Za-z]+(?:'[A-Za-z]+)?", lambda m: self.word(m.group(0)), text)


class IntentClassifier:
    """Fit on the examples (vectors and their texts), then score one utterance.

    Multinomial logistic regression: its probabilities are the ones its log loss
    calibrates. A weak regularisation (``C``) because the classes are a few dozen short
    sentences each; ``class_weight="balanced"`` so the large out-of-scope class does not
    drown a skill with a dozen examples. (Sigmoid recalibration with CalibratedClassifierCV
    was measured and dropped: with so few examples a class, its folds starve the fit.)
    ``lexical`` weighs the sparse features against the embedding (0: embedding only)."""

    def __init__(
        self,
        labels: Sequence[str],
        vectors: np.ndarray,
        texts: Sequence[str] | None = None,
        *,
        c: float = 64.0,
        lexical: float = 1.0,
    ) -> None:
        from sklearn.linear_model import LogisticRegression

        self.labels = list(labels)
        self.vectors = np.asarray(vectors, dtype=np.float32)
        self.lexical = lexical if texts is not None else 0.0
        self.model: Any = None
        self._words: Any = None
        self._chars: Any = None
        self.classes: list[str] = sorted(set(self.labels))
        if len(self.classes) < 2:
            return  # one class: nothing to tell apart, similarity alone decides
        if self.lexical:
            from sklearn.feature_extraction.text import TfidfVectorizer

            self._words = TfidfVectorizer(
                analyzer="word", ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b"
            )
            self._chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)
            self._words.fit([t.lower() for t in texts or ()])
            self._chars.fit([t.lower() for t in texts or ()])
        self.model = LogisticRegression(C=c, class_weight="balanced", max_iter=5000)
        self.model.fit(self.features(self.vectors, texts), np.array(self.labels))
        self.classes = list(self.model.classes_)

    def features(self, vectors: np.ndarray, texts: Sequence[str] | None) -> Any:
        dense = np.asarray(vectors, dtype=np.float32)
        if not self.lexical or texts is None or self._words is None:
            return dense
        import scipy.sparse as sp

        low = [t.lower() for t in texts]
        return sp.hstack(
            [sp.csr_matrix(dense), self.lexical * self._words.transform(low), self.lexical * self._chars.transform(low)]
        ).tocsr()

    def probabilities(self, vector: np.ndarray, text: str | None = None) -> dict[str, float]:
        if self.model is None:
            return {label: 1.0 for label in set(self.labels)}
        texts = [text] if text is not None else None
        if self.lexical and texts is None:
            texts = [""]  # no text given: the embedding alone speaks
        probs = self.model.predict_proba(self.features(np.asarray(vector, dtype=np.float32)[None, :], texts))[0]
        return {c: float(p) for c, p in zip(self.classes, probs, strict=True)}

    def similarities(self, vector: np.ndarray) -> dict[str, float]:
        sims = self.vectors @ np.asarray(vector, dtype=np.float32)
        out: dict[str, float] = {}
        for label, sim in zip(self.labels, sims.tolist(), strict=True):
            if sim > out.get(label, -1.0):
                out[label] = float(sim)
        return out
