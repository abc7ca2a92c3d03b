"""The local backend: SmolLM2 in-process through xllamacpp."""

import asyncio

import pytest

from qira.errors import LocalModelError
from qira.inference import (
    ChatMessage,
    ChatRequest,
    Finish,
    LocalChatModel,
    TextDelta,
    ToolCallDelta,
    Usage,
    grammar_json,
)

pytestmark = pytest.mark.anyio


def ask(text, **kw):
    return ChatRequest(messages=[ChatMessage(role="user", content=text)], temperature=0.0, **kw)


async def test_streams_text_usage_and_finish(local_model):
    model = LocalChatModel(local_model)
    deltas = [d async for d in model.stream(ask("Name a colour.", max_tokens=6))]
    assert any(isinstance(d, TextDelta) and d.text for d in deltas)
    assert [d for d in deltas if isinstance(d, Usage)][0].completion_tokens == 6
    assert deltas[-1] == Finish(reason="length")


async def test_tools_are_not_offered_to_the_local_model(local_model):
    tool = {"type": "function", "function": {"name": "lights_off", "parameters": {"type": "object", "properties": {}}}}
    deltas = [
        d async for d in LocalChatModel(local_model).stream(ask("Turn the lights off.", max_tokens=6, tools=[tool]))
    ]
    assert not any(isinstance(d, ToolCallDelta) for d in deltas)
    assert isinstance(deltas[-1], Finish)


async def test_grammar_json_returns_valid_structure(local_model):
    schema = {
        "type": "object",
        "properties": {
            "skill": {"type": "string", "enum": ["weather", "timer", "lights"]},
            "minutes": {"type": "integer"},
        },
        "required": ["skill", "minutes"],
    }
    messages = [ChatMessage(role="user", content="Set a timer for 5 minutes.")]
    value = await grammar_json(LocalChatModel(local_model), messages, schema, max_tokens=48)
    assert value["skill"] in {"weather", "timer", "lights"}
    assert isinstance(value["minutes"], int)
    assert set(value) == {"skill", "minutes"}


async def test_grammar_json_refuses_a_truncated_answer(local_model):
    schema = {"type": "object", "properties": {"story": {"type": "string"}}, "required": ["story"]}
    with pytest.raises(LocalModelError, match="incomplete"):
        await grammar_json(
            LocalChatModel(local_model), [ChatMessage(role="user", content="Tell a story.")], schema, max_tokens=3
        )


async def test_closing_the_stream_stops_generation(local_model):
    model = LocalChatModel(local_model)
    stream = model.stream(ask("Write a very long story about a dragon.", max_tokens=1500))
    got = 0
    async for delta in stream:
        got += isinstance(delta, TextDelta)
        if got == 3:
            break
    await stream.aclose()
    for _ in range(250):  # llama.cpp stops at the next token
        if model.active_streams == 0:
            break
        await asyncio.sleep(0.02)
    assert model.active_streams == 0


async def test_two_streams_at_once(local_model):
    model = LocalChatModel(local_model)

    async def one(text):
        return [d async for d in model.stream(ask(text, max_tokens=5))]

    a, b = await asyncio.gather(one("Say one."), one("Say two."))
    assert isinstance(a[-1], Finish) and isinstance(b[-1], Finish)


async def test_a_conversation_too_long_for_the_context_is_trimmed_not_refused(local_model):
    # privacy can keep a long conversation local; the oldest turns give way
    messages = [ChatMessage(role="system", content="You are Qira.")]
    for i in range(20):
        messages += [
            ChatMessage(role="user", content=f"Turn {i}: tell me about Lisbon. " * 10),
            ChatMessage(role="assistant", content="Lisbon is lovely. " * 10),
        ]
    messages.append(ChatMessage(role="user", content="And Porto?"))
    deltas = [d async for d in LocalChatModel(local_model).stream(ChatRequest(messages=messages, max_tokens=4))]
    assert isinstance(deltas[-1], Finish)
