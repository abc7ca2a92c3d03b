"""Scoring the intent classifier on labelled utterances (the held-out test and bench/agent.py)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping, Sequence
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


def cross_validate(
    skills: Sequence[Any], embedder: Any, out_of_scope: Sequence[str], *, folds: int = 5, seed: int = 0
) -> list[tuple[str, str | None, Any]]:
    """Out-of-fold classifications of the training data itself: each skill example and each
    out-of-scope line is classified by a matcher trained on the other folds (stratified by
    label). Rows are ``(text, expected, Classification)``; :func:`choose_thresholds` picks the
    thresholds from them, so they never see a held-out set."""
    from dataclasses import replace

    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    rows = [(t, s.name) for s in skills for t in s.examples] + [(t, None) for t in out_of_scope]
    labels = np.array([want or "out_of_scope" for _, want in rows])
    out: list[tuple[str, str | None, Any]] = []
    split = StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(rows)), labels)
    for train, test in split:
        kept = {rows[i][0] for i in train}
        fold_skills = [replace(s, examples=tuple(t for t in s.examples if t in kept)) for s in skills]
        fold_oos = [t for t in out_of_scope if t in kept]
        matcher = IntentMatcher(fold_skills, embedder, out_of_scope=fold_oos)

        async def run(m: IntentMatcher = matcher, idx: Any = test) -> list[Any]:
            await m.prepare()
            vectors = await m.embed_many([rows[i][0] for i in idx])
            return [m.classify_vector(rows[i][0], v) for i, v in zip(idx, vectors, strict=True)]

        out += [(rows[i][0], rows[i][1], c) for i, c in zip(test, asyncio.run(run()), strict=True)]
    return out


def redecide(text: str, c: Any, skills: Mapping[str, Any], thresholds: Any) -> tuple[Decision, str | None, str]:
    """The decision for a classified utterance under other thresholds (as classify makes it)."""
    from qira.agent._decide import decide
    from qira.agent._utterance import Mood, about_the_person, lead_word, mood, negated_verb

    about_me = about_the_person(text)
    return decide(
        c.candidates,
        c.out_of_scope,
        skills,
        thresholds=thresholds,
        mood=Mood.QUESTION if about_me else mood(text),
        about_me=about_me,
        negated=negated_verb(text),
        lead=lead_word(text),
    )


def sweep(oof: Sequence[tuple[str, str | None, Any]], skills: Mapping[str, Any], thresholds: Any) -> dict[str, Any]:
    """Accuracy and wrong actions of out-of-fold rows decided again under ``thresholds``."""
    right = asked = wrong = changing = 0
    for text, want, c in oof:
        decision, skill, _ = redecide(text, c, skills, thresholds)
        result = outcome(want, decision, skill)
        right += result == "right"
        asked += result == "asked"
        if decision is Decision.ACT and skill != want and not (want is None and skill == "small_talk"):
            wrong += 1
            changing += not skills[skill].read_only
    return {
        "accuracy": round(right / len(oof), 4),
        "asked_back_on_the_right_skill": asked,
        "acted_on_a_wrong_skill": wrong,
        "side_effecting_skill_on_a_wrong_match": changing,
    }


def choose_thresholds(
    oof: Sequence[tuple[str, str | None, Any]], skills: Mapping[str, Any], base: Any, *, weight: float = 10.0
) -> Any:
    """The thresholds the training data supports, from out-of-fold rows:

    - ``changes`` (skills that change something): the lowest cost, where a wrong change
      weighs ``weight`` times an utterance not handled right (asked back, left to the model,
      or a wrong read-only answer);
    - ``read_only``: the highest threshold whose accuracy is within one point of the best
      (accuracy is flat over a wide range; a higher one gives fewer wrong answers)."""
    from dataclasses import replace

    grid = [round(0.3 + 0.05 * i, 2) for i in range(13)]  # 0.30 .. 0.90

    def cost(x: float) -> float:
        r = sweep(oof, skills, replace(base, changes=x))
        return (1 - r["accuracy"]) * len(oof) + weight * r["side_effecting_skill_on_a_wrong_match"]

    changes = min(grid, key=lambda x: (round(cost(x), 6), -x))
    accuracy = {x: sweep(oof, skills, replace(base, changes=changes, read_only=x))["accuracy"] for x in grid}
    read_only = max(x for x in grid if accuracy[x] >= max(accuracy.values()) - 0.01)
    return replace(base, changes=changes, read_only=read_only, ask=min(base.ask, changes))
