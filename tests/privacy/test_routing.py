"""The privacy rule in the router and the service: redact-then-offload, minimal memory
context, and model calls from the agent routed by the same rule as its answer."""

from __future__ import annotations

import asyncio

import pytest

from qira.config import CloudConfig, InferenceConfig, LocalModelConfig
from qira.inference import ChatMessage, ChatRequest, InferenceService, LocalModel, MemoryRef, Target, TextDelta
from qira.inference._router import CloudStatus, Router
from qira.memory import Scope
from tests.agent import _skills
from tests.agent._fakes import ScriptedModel, text
from tests.privacy.recording import EchoServer

pytestmark = pytest.mark.anyio
CLOUD = CloudStatus(configured=True)
SYSTEM = "You are Qira.\nWhat you know about the person:\n- {}"


def router(**kw) -> Router:
    return Router(InferenceConfig(policy="prefer-cloud", cloud=CloudConfig(base_url="http://127.0.0.1:9/v1"), **kw))


def ask(*turns: str, system: str | None = None, memories=()) -> ChatRequest:
    messages = [ChatMessage(role="system", content=system)] if system else []
    messages += [ChatMessage(role="user", content=t) for t in turns]
    return ChatRequest(messages=messages, memories=tuple(memories))


def test_redact_mode_sends_placeholders_and_says_what_it_redacted():
    request = ask("My sister Ana Lima is at +44 20 7946 0958")
    decision = router(privacy_mode="redact").decide(request, cloud=CLOUD)
    assert decision.target is Target.CLOUD
    assert decision.reasons[0] == "2 items redacted: a name and a phone number"
    assert decision.cloud_request.messages[0].content == "My sister <PERSON_1> is at <PHONE_1>"
    assert request.messages[0].content == "My sister Ana Lima is at +44 20 7946 0958"  # the local copy is whole
    assert decision.as_json()["redacted"] == 2


def test_keep_local_names_the_kinds():
    decision = router().decide(ask("SSN 536-90-4399 and IBAN GB33BUKB20201555555555"), cloud=CLOUD)
    assert decision.target is Target.LOCAL
    assert "a bank account number and an identity number" in decision.reasons[0]
    assert "phone" not in decision.explain()


def test_a_topic_cannot_be_redacted():
    decision = router(privacy_mode="redact").decide(
        ask("I was diagnosed with diabetes, call me on 07700 900123"), cloud=CLOUD
    )
    assert decision.target is Target.LOCAL and "cannot be redacted" in decision.reasons[0]


@pytest.mark.parametrize(
    ("scope", "score", "target"),
    [
        ("private", 0.20, Target.CLOUD),  # irrelevant: taken out, the question goes
        ("private", 0.60, Target.LOCAL),  # relevant: the answer needs it, so it stays
        ("device", 0.20, Target.CLOUD),
        ("device", 0.60, Target.LOCAL),
        ("shared", 0.20, Target.CLOUD),  # irrelevant shared memories stay home too (minimal context)
        ("shared", 0.60, Target.CLOUD),
    ],
)
def test_memories_by_scope_and_relevance(scope, score, target):
    memory = "I like window seats"
    request = ask(
        "What is 17% of 240?", system=SYSTEM.format(memory), memories=[MemoryRef(text=memory, scope=scope, score=score)]
    )
    decision = router().decide(request, cloud=CLOUD)
    assert decision.target is target
    if target is Target.CLOUD:
        sent = "\n".join(m.content for m in (decision.cloud_request or request).messages)
        assert (memory in sent) is (scope == "shared" and score >= 0.40)


def test_a_relevant_memory_with_personal_data_never_leaves():
    memory = "my resting heart rate is 58 and my car registration is AB12 CDE"
    request = ask(
        "what is my car registration?",
        system=SYSTEM.format(memory),
        memories=[MemoryRef(text=memory, scope="shared", score=0.7)],
    )
    decision = router().decide(request, cloud=CLOUD)
    assert decision.target is Target.LOCAL and "a memory relevant to this request holds" in decision.reasons[0]
    irrelevant = ask(
        "What is 17% of 240?",
        system=SYSTEM.format(memory),
        memories=[MemoryRef(text=memory, scope="shared", score=0.1)],
    )
    decision = router().decide(irrelevant, cloud=CLOUD)
    assert decision.target is Target.CLOUD and "AB12" not in str(decision.cloud_request.messages)


async def test_the_service_restores_values_in_the_streamed_answer(tmp_path):
    with EchoServer(chunk_chars=2) as echo:
        config = InferenceConfig(
            policy="prefer-cloud",
            privacy_mode="redact",
            cloud=CloudConfig(base_url=echo.base_url, model="echo", max_retries=0),
            local=LocalModelConfig(model_path=str(tmp_path / "none.gguf")),
        )
        service = InferenceService(config, local=LocalModel(config.local, socket_dir=tmp_path), data_dir=tmp_path)
        try:
            turn = service.chat(ask("write to ana.lima@example.com", "and call +44 20 7946 0958"))
            chunks = [d.text async for d in turn if isinstance(d, TextDelta)]
        finally:
            await service.close()
    answer = "".join(chunks)
    assert answer == (
        "Noted ana.lima@example.com +44 20 7946 0958. Again, backwards: +44 20 7946 0958 "
        "ana.lima@example.com; once more ana.lima@example.com +44 20 7946 0958 and ana.lima@example.com."
    )
    body = echo.bodies()[0]
    assert "<EMAIL_1>" in body and "<PHONE_1>" in body
    assert "ana.lima" not in body and "7946" not in body


async def test_slot_extraction_carries_the_turns_memories(make_harness):
    # the skill matched, a slot is missing: the extraction request goes through the same rule
    model = ScriptedModel([[*text('{"who": "Dora"}')]])
    h = await make_harness(_skills.ALL, model=model)
    await h.memory.add("my PIN is 4821", scope=Scope.PRIVATE)
    await h.memory.add("greet people warmly", scope=Scope.SHARED)
    await h.say("greet")
    extraction = next(r for r in model.requests if r.json_schema is not None)
    assert {(m.text, m.scope) for m in extraction.memories} >= {("greet people warmly", "shared")}
    assert extraction.messages[-1].content == "greet"


async def test_facts_learnt_from_personal_words_are_private(tmp_path, embedder):
    from tests.agent.conftest import Harness

    h = Harness(tmp_path, embedder, _skills.ALL, model=ScriptedModel([text("Noted."), text("Noted.")]))
    h.agent.planner.extract_facts = lambda t: [t] if t.startswith("my ") else []
    await h.agent.start(warm=False)
    try:
        await h.say("my favourite colour is green")
        await h.say("my phone number is 07700 900123")
        for _ in range(50):
            if len(h.memory.items) == 2:
                break
            await asyncio.sleep(0.1)
        assert [(m.text, m.scope) for m in h.memory.items] == [
            ("my favourite colour is green", Scope.SHARED),
            ("my phone number is 07700 900123", Scope.PRIVATE),
        ]
    finally:
        await h.agent.stop()
