"""Scoring the intent classifier on labelled utterances (the held-out test and bench/agent.py)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from typing import Any

from qira.agent import Decision, IntentMatcher

TALK = (None, "small_talk")  # both only talk: the model answers


def outcome(want: str | None, decision: Decision, skill: str | None) -> str:
    """right | asked (asked back instead of acting) | wrong"""
    if decision is Decision.ACT and skill == want:
        return "right"
    if want in TALK and (decision is Decision.MODEL or skill == "small_talk"):
        return "right"
    if decision is Decision.ASK and skill == want:
        return "asked"
    return "wrong"


def evaluate(matcher: IntentMatcher, rows: Sequence[tuple[str, str | None]]) -> dict[str, Any]:
    """Classify every row (embedded in one batch) and count what happened."""

    async def run() -> list[Any]:
        await matcher.prepare()
        vectors = await matcher.embed_many([t for t, _ in rows])
        return [matcher.classify_vector(t, v) for (t, _), v in zip(rows, vectors, strict=True)]

    results = asyncio.run(run())
    skills = matcher.skills
    table = []
    for (text, want), c in zip(rows, results, strict=True):
        got = c.skill if c.decision is not Decision.MODEL else None
        table.append(
            {
                "text": text,
                "expected": want,
                "decision": c.decision.value,
                "skill": got,
                "outcome": outcome(want, c.decision, c.skill),
                "arguments": dict(c.chosen.arguments) if c.chosen and c.chosen.arguments else None,
            }
        )
    right = sum(r["outcome"] == "right" for r in table)
    wrong_actions = [
        r
        for r in table
        if r["decision"] == "act"
        and r["skill"] != r["expected"]
        and not (r["expected"] is None and r["skill"] == "small_talk")
    ]
    changing = [r for r in wrong_actions if r["skill"] in skills and not skills[r["skill"]].read_only]
    pairs = Counter(
        f"{r['expected'] or 'none (model)'} -> {r['decision']} {r['skill'] or 'none (model)'}"
        for r in table
        if r["outcome"] != "right"
    )
    return {
        "utterances": len(table),
        "right": right,
        "accuracy": round(right / len(table), 4),
        "asked_back_on_the_right_skill": sum(r["outcome"] == "asked" for r in table),
        "acted_on_a_wrong_skill": len(wrong_actions),
        "side_effecting_skill_on_a_wrong_match": len(changing),
        "wrong_actions_per_skill": dict(Counter(r["skill"] for r in wrong_actions).most_common()),
        "confusion_pairs": dict(pairs.most_common()),
        "misses": [r for r in table if r["outcome"] != "right"],
        "rows": table,
    }
