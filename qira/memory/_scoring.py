"""How a search result's score is made, and the explanation that goes with it.

Vector similarity carries most of the weight. Lexical matching (FTS5 over the
query's rare words) lifts memories that name the same person, date or rare
thing, which sentence embeddings blur. Importance and recency nudge ties.
Context events (where the person is, what they are doing) fade: their score is
scaled by a half-life decay so yesterday's "at the gym" does not outrank
today's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ._types import Memory, MemoryKind, SearchHit

__all__ = ["Candidate", "WEIGHTS", "score"]

WEIGHTS = {"similarity": 0.78, "lexical": 0.12, "importance": 0.06, "recency": 0.04}
# Facts and preferences age slowly; only the recency nudge uses this.
_RECENCY_HALF_LIFE_DAYS = 90.0


@dataclass(frozen=True, kw_only=True)
class Candidate:
    memory: Memory
    similarity: float
    lexical: float = 0.0  # bm25 strength normalised to 0..1 across this query's matches


def score(candidates: list[Candidate], *, k: int, context_half_life_hours: float,
          matched_terms: list[str], now: float | None = None) -> list[SearchHit]:
    now = time.time() if now is None else now
    hits: list[SearchHit] = []
    for c in candidates:
        m = c.memory
        age_s = max(0.0, now - m.updated_at)
        recency = 0.5 ** (age_s / 86400.0 / _RECENCY_HALF_LIFE_DAYS)
        parts = {
            "similarity": max(0.0, c.similarity),
            "lexical": c.lexical,
            "importance": m.importance,
            "recency": recency,
        }
        total = sum(WEIGHTS[name] * value for name, value in parts.items())
        explanation: dict[str, object] = {name: round(value, 4) for name, value in parts.items()}
        if m.kind is MemoryKind.CONTEXT:
            decay = 0.5 ** (age_s / 3600.0 / context_half_life_hours)
            total *= 0.5 + 0.5 * decay  # fades to half weight, never to nothing
            explanation["decay"] = round(decay, 4)
        if c.lexical and matched_terms:
            explanation["matched_terms"] = [t.strip('"') for t in matched_terms]
        explanation["weights"] = WEIGHTS
        hits.append(SearchHit(memory=m, score=round(total, 6), explanation=explanation))
    hits.sort(key=lambda h: (-h.score, -h.memory.updated_at))
    return hits[:k]
