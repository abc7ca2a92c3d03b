"""Intent classification on the held-out set (tests/agent/_heldout.py), with the real
embedding model and the real first-party skills, embedded in one batch."""

from __future__ import annotations

import pytest

from qira.agent import Decision, IntentMatcher, SkillRegistry, Thresholds
from qira.agent._intent import normalize
from qira.agent._out_of_scope import OUT_OF_SCOPE
from qira.config import AgentConfig, SkillsConfig
from tests.agent._eval import evaluate
from tests.agent._heldout import HELDOUT


@pytest.fixture(scope="module")
def skills():
    return list(SkillRegistry.from_entry_points(SkillsConfig()))


@pytest.fixture(scope="module")
def results(skills, embedder):
    return evaluate(IntentMatcher(skills, embedder, thresholds=Thresholds.from_config(AgentConfig())), HELDOUT)


def test_the_heldout_set_is_big_and_apart_from_the_training_data(skills):
    assert len(HELDOUT) >= 300
    trained = {normalize(t).lower() for s in skills for t in s.examples} | {normalize(t).lower() for t in OUT_OF_SCOPE}
    assert not [t for t, _ in HELDOUT if normalize(t).lower() in trained]
    assert sum(want is None for _, want in HELDOUT) >= 80  # open questions and near-misses


def test_no_skill_that_changes_something_runs_on_a_wrong_match(results):
    assert results["side_effecting_skill_on_a_wrong_match"] == 0, results["misses"]


def test_heldout_accuracy(results):
    # right = the expected skill acted, or nothing acted where no skill fits. Asking back
    # ("Save that as a note?") counts as not right. bench/agent.py prints the figures.
    assert results["accuracy"] >= 0.9, results["misses"]
    assert results["accuracy"] + results["asked_back_on_the_right_skill"] / results["utterances"] >= 0.95


def test_the_near_misses_from_the_issue_go_to_the_model(results):
    rows = {r["text"]: r for r in results["rows"]}
    for text in (
        "what's the capital of France?",
        "what is the boiling point of water in Celsius?",
        "Summarize in one sentence: the meeting moved to Thursday because Ana is sick.",
        "which battery chemistry lasts longest in cold weather?",
        "how do timers work in javascript",
        "what does the note C sound like on a piano?",
        "Describe the weather today.",
    ):
        assert rows[text]["decision"] != "act", rows[text]


def test_pattern_slots_are_typed_and_fall_through(skills, embedder):
    matcher = IntentMatcher(skills, embedder)
    assert matcher.extract("remind", "remind me to call the bank in 20 minutes") == {
        "text": "call the bank",
        "when": "20 minutes",
    }
    assert matcher.extract("remind", "remind me tomorrow at 9 to call the school") == {
        "when": "tomorrow at 9",
        "text": "call the school",
    }
    assert matcher.extract("translate", "what is 100 fahrenheit in celsius") is None  # celsius is no language
    assert matcher.extract("translate", "what is 'obrigado' in english") == {"text": "obrigado", "language": "english"}
    assert matcher.extract("timer", "set a timer for the pasta") is None  # no duration
    assert matcher.extract("timer", "set a timer for 3 minutes") == {"duration": "3 minutes"}


def test_classify_gives_ranked_candidates_and_a_decision(skills, embedder):
    import asyncio

    matcher = IntentMatcher(skills, embedder)
    found = asyncio.run(matcher.classify("remind me in 2 seconds to stretch"))
    assert found.decision is Decision.ACT and found.skill == "remind"
    assert found.chosen.arguments == {"when": "2 seconds", "text": "stretch"}
    assert [c.score for c in found.candidates] == sorted((c.score for c in found.candidates), reverse=True)
    assert found.as_json()["candidates"][0]["skill"] == found.candidates[0].skill
    unsure = asyncio.run(matcher.classify("how do I set a timer on my microwave"))
    assert unsure.decision is Decision.MODEL and unsure.skill is None
