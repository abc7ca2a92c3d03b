"""How a search result's score is made, and the explanation that goes with it.

Vector similarity carries most of the weight. Lexical matching (FTS5 over the
query's particulars: names, numbers, codes) lifts memories that name the same
person, date or code, which sentence embeddings blur. Importance and recency nudge ties.
Context events (where the person is, what they are doing) fade: their score is
scaled by a half-life decay so yesterday's "at the gym" does not outrank
today's. Everything is computed over numpy arrays of candidates at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Scores", "WEIGHTS", "score"]

WEIGHTS = {"similarity": 0.82, "lexical": 0.08, "importance": 0.06, "recency": 0.04}
# Facts and preferences age slowly; only the recency nudge uses this.
_RECENCY_HALF_LIFE_DAYS = 90.0


@dataclass(frozen=True, kw_only=True)
class Scores:
    total: np.ndarray
    parts: dict[str, np.ndarray]  # similarity, lexical, importance, recency, decay (nan: not context)

    def explain(self, i: int, matched_terms: list[str]) -> dict[str, object]:
        out: dict[str, object] = {
            name: round(float(values[i]), 4) for name, values in self.parts.items() if name != "decay"
        }
        if not np.isnan(self.parts["decay"][i]):
            out["decay"] = round(float(self.parts["decay"][i]), 4)
        if self.parts["lexical"][i] > 0 and matched_terms:
            out["matched_terms"] = [t.strip('"') for t in matched_terms]
        out["weights"] = WEIGHTS
        return out


def score(
    *,
    similarity: np.ndarray,
    lexical: np.ndarray,
    importance: np.ndarray,
    updated: np.ndarray,
    is_context: np.ndarray,
    now: float,
    context_half_life_hours: float,
) -> Scores:
    age_s = np.maximum(0.0, now - updated)
    parts = {
        "similarity": np.maximum(0.0, similarity),
        "lexical": lexical,
        "importance": importance.astype(np.float64),
        "recency": 0.5 ** (age_s / 86400.0 / _RECENCY_HALF_LIFE_DAYS),
    }
    total = sum(WEIGHTS[name] * values for name, values in parts.items())
    decay = np.where(is_context, 0.5 ** (age_s / 3600.0 / context_half_life_hours), np.nan)
    total = np.where(is_context, total * (0.5 + 0.5 * np.nan_to_num(decay)), total)  # fades to half, never to nothing
    parts["decay"] = decay
    return Scores(total=total, parts=parts)
