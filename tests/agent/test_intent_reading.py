"""How an utterance is read before and while deciding (sans I/O, no model): typo repair,
questions about the person, negated requests, the decision rules over made-up scores."""

from __future__ import annotations

import pytest

from qira.agent import Decision, IntentMatch, Thresholds
from qira.agent._decide import decide
from qira.agent._intent_model import Speller
from qira.agent._utterance import (
    Mood,
    about_the_person,
    asks_for_writing,
    lead_word,
    mood,
    names_nothing,
    negated_verb,
    normalize,
)
from qira.sdk import Permission, SkillContext, skill


@skill(description="Write down a note", examples=["take a note: milk", "jot down eggs", "jot this: bread"])
async def note_add(ctx: SkillContext, text: str) -> str:
    return text


@skill(
    description="Remember a fact",
    examples=["remember that I like tea", "remember my locker is 27", "don't forget that I'm vegan"],
)
async def remember(ctx: SkillContext, text: str) -> str:
    return text


@skill(
    description="Forget a fact",
    examples=["forget my address", "forget what I said about work", "stop remembering my locker"],
)
async def forget(ctx: SkillContext, topic: str) -> str:
    return topic


@skill(
    description="Answer questions about the person",
    examples=["what's my sister's name"],
    permissions=[Permission.MEMORY_READ],
    read_only=True,
)
async def recall(ctx: SkillContext) -> str:
    return ""


@skill(description="List notes", examples=["show my notes"], read_only=True)
async def notes_list(ctx: SkillContext) -> str:
    return ""


SKILLS = {s.name: s for s in (note_add, remember, forget, recall, notes_list)}
T = Thresholds()


def ranked(**scores: float) -> list[IntentMatch]:
    out = [IntentMatch(skill=k, score=v, similarity=0.6) for k, v in scores.items()]
    return sorted(out, key=lambda m: -m.score)


def test_typos_and_shorthand_are_read_as_the_training_words():
    speller = Speller(["remind me to call mom", "forget my address", "translate hello"], known={"joana", "call"})
    assert speller.fix("remnd me to call mom pls") == "remind me to call mom please"
    assert speller.fix("forgett my adress") == "forget my address"
    assert speller.fix("trnaslate hi") == "translate hi"
    assert speller.fix("ask Joana") == "ask Joana"  # a known word is never "repaired"
    assert speller.fix("the xylophone") == "the xylophone"  # nothing near it: left alone


@pytest.mark.parametrize(
    "text",
    [
        "where do I live?",
        "what do I prefer to drink",
        "what's my sister's name",
        "am I allergic to anything",
        "do you know my blood group",
        "remind me what my locker number is",
        "in which city does my brother live",
        "how do I take my coffee?",
        "when's my partner's birthday",
    ],
)
def test_questions_about_the_person(text):
    assert about_the_person(text)


@pytest.mark.parametrize(
    "text",
    [
        "how do I reset my router",
        "what should I cook tonight",
        "why is my phone so slow",
        "what's the capital of Peru",
        "how do I take good notes",
        "what day was I born if my birthday is 3 March 1990",
        "remind me to call mom",
        "how to make my plants grow",
    ],
)
def test_questions_that_are_not_about_the_person(text):
    assert not about_the_person(text)


def test_negated_requests_and_lead_words():
    assert negated_verb("stop remembering that I'm vegan") == "reme"
    assert negated_verb("please don't remind me") == "remi"
    assert negated_verb("I can't remember where I put my keys") == "reme"
    assert negated_verb("you no longer need to remember my address") == "reme"
    assert negated_verb("remember that I'm vegan") is None
    assert lead_word("Hey Qira, please jot down eggs") == "jot"


def test_a_question_weighs_only_the_skills_that_read():
    # "is there a note about the plumber?" scored high on note_add: a question never writes
    decision, chosen, _ = decide(ranked(note_add=0.8, notes_list=0.15), 0.05, SKILLS, thresholds=T, mood=Mood.QUESTION)
    assert (decision, chosen) == (Decision.ACT, "notes_list")  # 0.15 / (0.15 + 0.05) = 0.75


def test_a_question_about_the_person_goes_to_the_memory_skill_however_open_it_sounds():
    candidates = ranked(recall=0.2, notes_list=0.05)
    assert decide(candidates, 0.7, SKILLS, thresholds=T, mood=Mood.QUESTION)[0] is Decision.MODEL
    decision, chosen, why = decide(candidates, 0.7, SKILLS, thresholds=T, mood=Mood.QUESTION, about_me=True)
    assert (decision, chosen) == (Decision.ACT, "recall") and "about you" in why
    # but not when another reading skill leads ("what's my battery")
    lead = ranked(notes_list=0.6, recall=0.1)
    assert decide(lead, 0.1, SKILLS, thresholds=T, mood=Mood.QUESTION, about_me=True)[1] == "notes_list"


def test_a_negated_request_never_runs_the_skill_it_negates():
    scores = ranked(remember=0.95, forget=0.03)
    decision, chosen, _ = decide(scores, 0.02, SKILLS, thresholds=T, negated="reme")
    assert chosen != "remember" and decision is not Decision.ACT
    # the skill whose own examples negate that verb may still run
    assert decide(ranked(forget=0.9, remember=0.05), 0.05, SKILLS, thresholds=T, negated="reme")[:2] == (
        Decision.ACT,
        "forget",
    )
    assert decide(ranked(remember=0.9), 0.05, SKILLS, thresholds=T, negated="forg")[:2] == (Decision.ACT, "remember")


def test_a_changing_skill_is_asked_back_when_the_utterance_starts_with_another_ones_verb():
    scores = ranked(forget=0.85, remember=0.1)
    assert decide(scores, 0.05, SKILLS, thresholds=T, lead="remember")[:2] == (Decision.ASK, "forget")
    assert decide(scores, 0.05, SKILLS, thresholds=T, lead="forget")[:2] == (Decision.ACT, "forget")
    assert decide(scores, 0.05, SKILLS, thresholds=T, lead="please")[:2] == (Decision.ACT, "forget")


def test_a_free_text_pattern_of_a_changing_skill_needs_the_classifier_too():
    loose = [IntentMatch(skill="remember", score=0.2, similarity=0.5, pattern=True, arguments={"text": "the alamo"})]
    assert decide(loose, 0.5, SKILLS, thresholds=T)[0] is not Decision.ACT
    sure = [IntentMatch(skill="remember", score=0.5, similarity=0.5, pattern=True, arguments={"text": "I like tea"})]
    assert decide(sure, 0.1, SKILLS, thresholds=T)[:2] == (Decision.ACT, "remember")


@pytest.mark.parametrize(
    ("text", "writing"),
    [
        ("jot down some ideas for a birthday party", True),
        ("write down the steps to bake a cake", True),
        ("note the differences between TCP and UDP", True),
        ("please write me some tips for sleeping better", True),
        ("write down 5 names for a cat", True),
        ("jot down three ideas: cake, balloons, music", False),  # dictated: the person's own words
        ("note: the steps are loose on the porch", False),
        ("note the steps are loose", False),
        ("remind me to ask the teacher some questions tomorrow", False),
        ("add a note that the garage code is 4512", False),
    ],
)
def test_a_request_for_something_written_is_not_the_persons_words(text, writing):
    assert asks_for_writing(text) is writing


def test_words_that_name_nothing_and_fillers_and_reminiscing():
    assert names_nothing("ok remember this") and names_nothing("write that down") and names_nothing("forget it")
    assert not names_nothing("remember my locker is 27") and not names_nothing("note this: milk")
    assert normalize("ok, so remember this") == "remember this" and normalize("okay") == "okay"
    assert mood("remember when we went to the beach? that was fun") is Mood.QUESTION
    assert mood("remember that I'm vegan") is Mood.COMMAND


def test_nothing_to_keep_runs_no_changing_skill():
    scores = ranked(note_add=0.9, notes_list=0.05)
    assert decide(scores, 0.05, SKILLS, thresholds=T)[:2] == (Decision.ACT, "note_add")
    assert decide(scores, 0.05, SKILLS, thresholds=T, no_words_to_keep=True)[:2] == (Decision.MODEL, None)
    patterned = [IntentMatch(skill="note_add", score=0.9, similarity=0.9, pattern=True, arguments={"text": "x"})]
    assert decide(patterned, 0.05, SKILLS, thresholds=T, no_words_to_keep=True)[0] is Decision.MODEL
