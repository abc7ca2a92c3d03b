"""The planner with the real first-party skills: asking back before a skill that changes
something, answers from memory without echoing the question, whole sentences on a wearable."""

from __future__ import annotations

import pytest

from qira.agent import SkillRegistry
from qira.config import SkillsConfig
from qira.devices import DeviceKind
from qira.inference import Finish, TextDelta
from tests.agent._fakes import ScriptedModel, device

pytestmark = pytest.mark.anyio

SKILL_MODULES = list(SkillRegistry.from_entry_points(SkillsConfig()))


async def test_a_middling_match_on_a_skill_that_writes_asks_first_and_yes_runs_it(make_harness):
    h = await make_harness(SKILL_MODULES)
    # a vague request to keep something: note_add leads, but not by enough to write it down
    asked = await h.say("the dog had his vaccine today, put that somewhere")
    assert asked["text"] == "Do you want me to write down a note? Say yes and I will."
    assert (await h.say("show my notes", thread=asked["thread"]))["text"] == "You have no notes yet."
    again = await h.say("the dog had his vaccine today, put that somewhere")
    done = await h.say("yes please", thread=again["thread"])
    assert done["text"].startswith("Noted:") and "vaccine" in done["text"]


async def test_a_question_on_a_skills_topic_goes_to_the_model(make_harness):
    model = ScriptedModel([[TextDelta(text="Press the timer button."), Finish(reason="stop")]])
    h = await make_harness(SKILL_MODULES, model=model)
    done = await h.say("how do I set a timer on my microwave")
    assert done["text"] == "Press the timer button."
    assert not h.gateway.events("notify")


async def test_a_question_about_the_person_is_answered_from_the_relevant_memory(make_harness):
    h = await make_harness(SKILL_MODULES)
    await h.memory.add("I live in Coimbra")
    await h.memory.add("My cat is called Pixel")
    done = await h.say("where do I live?")
    assert done["text"] == "You live in Coimbra."  # one sentence, no echo, nothing about the cat


async def test_a_wearable_gets_whole_sentences_when_the_answer_is_cut(make_harness):
    long = [
        TextDelta(text="Tides follow the moon. "),
        TextDelta(text="Its pull raises the wat"),
        Finish(reason="length"),
    ]
    h = await make_harness(
        SKILL_MODULES,
        model=ScriptedModel([long]),
        devices=[device("watch", DeviceKind.WEARABLE), device("pc", DeviceKind.PC)],
    )
    done = await h.say("why are there tides", by="watch")
    assert done["text"] == "Tides follow the moon."
    sent = "".join(d["text"] for d in h.gateway.events("chat.delta", "watch"))
    assert "wat" not in sent.split()  # never half a word on the wrist


async def test_a_question_about_the_person_left_to_the_model_goes_to_memory_when_a_memory_answers(make_harness):
    model = ScriptedModel([[TextDelta(text="It is 10:00."), Finish(reason="stop")]] * 2)
    h = await make_harness(SKILL_MODULES, model=model)
    unsure = await h.say("what time is my dentist appointment")  # nothing on record: the model answers
    assert unsure["text"] == "It is 10:00."
    await h.memory.add("My dentist appointment is on Friday at 3pm")
    done = await h.say("what time is my dentist appointment")
    assert done["text"] == "Your dentist appointment is on Friday at 3pm."
    open_question = await h.say("what time is it in Tokyo")  # not about the person: never memory
    assert "dentist" not in open_question["text"]
