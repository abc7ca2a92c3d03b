"""The planner with a scripted model: local intent matching, cloud tool calls, approvals,
isolation of broken skills, threads across devices."""

from __future__ import annotations

import asyncio
import json

import pytest

from qira.agent import Outcome
from qira.errors import ProtocolError
from qira.inference import Target
from tests.agent import _skills
from tests.agent._fakes import ScriptedModel, text, tool

pytestmark = pytest.mark.anyio


async def test_local_intent_with_pattern_slots_runs_the_skill(make_harness):
    h = await make_harness(_skills.ALL)
    done = await h.say("Please say hi to Ana!")
    assert done["text"] == "Hello, Ana!"
    assert done["route"] == "local"
    deltas = h.gateway.events("chat.delta", "phone")
    assert "".join(d["text"] for d in deltas) == "Hello, Ana!"
    assert h.model.requests == []  # a confident local match needs no model at all


async def test_low_confidence_goes_to_the_model_not_to_a_skill(make_harness):
    model = ScriptedModel([text("Paris ", "is the capital.")])
    h = await make_harness(_skills.ALL, model=model)
    _skills.calls.clear()
    done = await h.say("what is the capital of France")
    assert done["text"] == "Paris is the capital."
    assert _skills.calls == []
    assert [d["text"] for d in h.gateway.events("chat.delta", "phone")] == ["Paris ", "is the capital."]


async def test_cloud_tool_call_then_composed_answer(make_harness):
    model = ScriptedModel(
        [tool("greet", json.dumps({"who": "Bea"})), text("I greeted Bea for you.")], target=Target.CLOUD
    )
    h = await make_harness(_skills.ALL, model=model)
    done = await h.say("could you be nice to Bea for me")
    assert done["text"] == "I greeted Bea for you."
    assert done["route"] == "cloud"
    assert model.requests[0].tools  # the skills' JSON schemas went to the model
    names = {t["function"]["name"] for t in model.requests[0].tools}
    assert {"greet", "wipe"} <= names
    tool_msgs = [m for m in model.requests[1].messages if m.role == "tool"]
    assert tool_msgs[0].content == "Hello, Bea!"


async def test_tool_call_needing_approval_is_approved_from_another_device(make_harness):
    model = ScriptedModel([tool("wipe", "{}"), text("Done: archive wiped.")], target=Target.CLOUD)
    h = await make_harness(_skills.ALL, model=model)
    _skills.calls.clear()
    started = await h.say("clean out the archive please", by="pc", wait=False)
    requests = await h.gateway.wait_for("approval.request", "phone")
    request = requests[0]
    assert request["skill"] == "wipe" and request["risk"] == "high" and request["summary"] == "Erase the whole archive"
    assert request["thread"] == started["thread"]
    assert h.gateway.events("approval.request", "pc")  # every active device is asked
    assert _skills.calls == []  # nothing ran yet
    result = await h.agent.handle_approval_respond(h.dev("phone"), {"approval": request["approval"], "approve": True})
    assert result["status"] == "approved"
    done = await h.gateway.wait_for("chat.done", "pc")
    assert done[-1]["text"] == "Done: archive wiped."
    assert _skills.calls == ["wipe"]
    resolved = h.gateway.events("approval.resolved", "pc")
    assert resolved[0]["status"] == "approved" and resolved[0]["by"] == "phone"
    entry = (await h.agent.audit.query(skill="wipe"))[-1]
    assert entry.approval == "approved" and entry.outcome is Outcome.OK and entry.device == "pc"
    with pytest.raises(ProtocolError) as err:  # answering twice is refused with a stable code
        await h.agent.handle_approval_respond(h.dev("pc"), {"approval": request["approval"], "approve": False})
    assert err.value.code == "approval_resolved"


async def test_denied_approval_runs_nothing(make_harness):
    h = await make_harness(_skills.ALL)
    _skills.calls.clear()
    await h.say("wipe the archive", wait=False)
    request = (await h.gateway.wait_for("approval.request", "phone"))[0]
    await h.agent.handle_approval_respond(h.dev("pc"), {"approval": request["approval"], "approve": False})
    done = await h.gateway.wait_for("chat.done", "phone")
    assert "you declined" in done[-1]["text"]
    assert _skills.calls == []
    assert (await h.agent.audit.query(skill="wipe"))[-1].outcome is Outcome.DENIED


async def test_unanswered_approval_expires_as_deny(make_harness):
    h = await make_harness(_skills.ALL, approval_timeout_s=0.3)
    _skills.calls.clear()
    await h.say("wipe the archive", wait=False)
    done = await h.gateway.wait_for("chat.done", "phone", timeout=60)
    assert "nobody approved it in time" in done[-1]["text"]
    assert _skills.calls == []
    assert h.gateway.events("approval.resolved")[0]["status"] == "expired"


async def test_pending_approval_survives_a_restart(make_harness):
    h = await make_harness(_skills.ALL)
    _skills.calls.clear()
    started = await h.say("wipe the archive", wait=False)
    request = (await h.gateway.wait_for("approval.request", "phone"))[0]
    await h.restart()
    assert [a["id"] for a in await h.agent.pending_approvals()] == [request["approval"]]
    with pytest.raises(ProtocolError) as err:  # the thread waits for the answer
        await h.agent.handle_chat_send(h.dev("phone"), {"text": "hello", "thread": started["thread"]})
    assert err.value.code == "approval_pending"
    await h.agent.handle_approval_respond(h.dev("pc"), {"approval": request["approval"], "approve": True})
    done = await h.gateway.wait_for("chat.done", "phone")
    assert done[-1]["text"] == "Archive wiped." and done[-1]["thread"] == started["thread"]
    assert _skills.calls == ["wipe"]


@pytest.mark.parametrize(
    ("utterance", "outcome", "words"),
    [
        ("crash now", Outcome.ERROR, "RuntimeError: kaboom"),
        ("hang now", Outcome.TIMEOUT, "did not finish within 0.3 s"),
        ("block now", Outcome.TIMEOUT, "did not finish within 0.3 s"),
        ("peek now", Outcome.PERMISSION_DENIED, "was not granted the 'memory.read' permission"),
    ],
)
async def test_a_failing_skill_fails_its_step_and_the_turn_goes_on(make_harness, utterance, outcome, words):
    h = await make_harness(_skills.ALL)
    done = await h.say(utterance)
    assert words in done["text"]
    assert (await h.agent.audit.query())[-1].outcome is outcome
    again = await h.say("say hi to Ana")  # the agent is fine afterwards
    assert again["text"] == "Hello, Ana!"


async def test_grants_in_config_give_and_withhold(make_harness):
    h = await make_harness(_skills.ALL, grants={"peek": ["memory.read"], "store": ["-memory.write@pc"]})
    await h.memory.add("the sky is blue")
    assert (await h.say("peek now"))["text"].startswith("saw ")
    assert (await h.say("store hello", by="phone"))["text"].startswith("stored ")
    assert "not granted" in (await h.say("store hello", by="pc"))["text"]
    entry = (await h.agent.audit.query(skill="store"))[0]
    assert entry.permissions_used == ("memory.write",)


async def test_streaming_skill_sends_chunks_as_deltas(make_harness):
    h = await make_harness(_skills.ALL)
    done = await h.say("stream now")
    assert done["text"] == "one two three"
    assert [d["text"] for d in h.gateway.events("chat.delta", "phone")] == ["one ", "two ", "three"]


async def test_thread_moves_from_phone_to_pc(make_harness):
    model = ScriptedModel([text("Nice to meet you, Carla."), text("You are Carla.")])
    h = await make_harness(_skills.ALL, model=model)
    first = await h.say("my name is Carla and I like tea", by="phone")
    second = await h.say("what is my name", by="pc", thread=first["thread"])
    assert second["thread"] == first["thread"] and second["text"] == "You are Carla."
    history = [(m.role, m.content) for m in model.requests[1].messages if m.role != "system"]
    assert history[:2] == [("user", "my name is Carla and I like tea"), ("assistant", "Nice to meet you, Carla.")]
    # the phone, which started the thread and is online, sees the PC's turn stream too
    assert any(d["turn"] == second["turn"] for d in h.gateway.events("chat.delta", "phone"))
    history = await h.agent.handle_chat_history(h.dev("pc"), {"thread": first["thread"]})
    assert [m["role"] for m in history["messages"]] == ["user", "assistant", "user", "assistant"]


async def test_bad_chat_send_is_refused_with_a_code(make_harness):
    h = await make_harness(_skills.ALL)
    for payload in ({}, {"text": "  "}, {"text": "hi", "thread": "bad thread!"}, {"text": 3}):
        with pytest.raises(ProtocolError) as err:
            await h.agent.handle_chat_send(h.dev("phone"), payload)
        assert err.value.code == "invalid_params"


async def test_learn_puts_facts_from_the_turn_in_memory(tmp_path, embedder):
    from tests.agent.conftest import Harness

    h = Harness(tmp_path, embedder, _skills.ALL, model=ScriptedModel([text("Noted.")]))
    h.agent.planner.extract_facts = lambda t: [t] if t.startswith("my ") else []
    await h.agent.start(warm=False)
    try:
        await h.say("my favourite colour is green")
        await asyncio.sleep(0.2)  # learn runs after chat.done
        assert [m.text for m in h.memory.items] == ["my favourite colour is green"]
    finally:
        await h.agent.stop()


async def test_missing_slots_come_from_grammar_constrained_json(make_harness):
    # "greet" matched by its examples, but no pattern gives "who": the model is asked for JSON
    model = ScriptedModel([[*text('{"who": "Dora"}')]])
    h = await make_harness(_skills.ALL, model=model)
    done = await h.say("greet")
    assert done["text"] == "Hello, Dora!"
    assert model.requests[0].json_schema == _skills.greet.params_schema()


async def test_a_blank_slot_from_the_model_leaves_the_one_slot_skill_the_whole_utterance(make_harness):
    model = ScriptedModel([[*text('{"who": ""}')]])
    h = await make_harness(_skills.ALL, model=model)
    assert (await h.say("greet"))["text"] == "Hello, greet!"


async def test_without_the_embedding_model_patterns_still_work(tmp_path):
    from qira.errors import MemoryStoreError
    from tests.agent.conftest import Harness

    class BrokenEmbedder:
        async def embed(self, texts):
            raise MemoryStoreError("cannot load embedding model all-MiniLM-L6-v2: gone")

    h = Harness(tmp_path, BrokenEmbedder(), _skills.ALL, model=ScriptedModel([text("I am here.")]))
    await h.agent.start(warm=False)
    try:
        assert (await h.say("say hi to Ana"))["text"] == "Hello, Ana!"
        assert (await h.say("how do volcanoes form"))["text"] == "I am here."
    finally:
        await h.agent.stop()


async def test_a_spoken_turn_needing_approval_says_so_then_answers_on_the_device(make_harness):
    # voice chat (Agent.say): the answer to speak comes at once even when the turn waits
    h = await make_harness(_skills.ALL)
    _skills.calls.clear()
    thread, pending = await h.agent.say(h.dev("pc"), "wipe the archive")
    assert pending.kind == "pending" and "approv" in pending.text.lower() and pending.approval
    assert _skills.calls == []
    request = (await h.gateway.wait_for("approval.request", "phone"))[0]
    assert request["thread"] == thread
    await h.agent.handle_approval_respond(h.dev("phone"), {"approval": request["approval"], "approve": True})
    done = await h.gateway.wait_for("chat.done", "pc")  # the spoken turn's answer, once approved
    assert done[-1]["thread"] == thread and done[-1]["question"] == "wipe the archive"
    assert _skills.calls == ["wipe"]
    # an answer that needs nothing comes back whole, and the device gets chat.done as for a typed turn
    thread2, answer = await h.agent.say(h.dev("pc"), "Please say hi to Ana!")
    assert (answer.kind, answer.text) == ("done", "Hello, Ana!")
    done = await h.gateway.wait_for("chat.done", "pc", count=2)
    assert done[-1]["thread"] == thread2 and done[-1]["text"] == "Hello, Ana!"
