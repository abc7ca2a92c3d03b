"""The OpenAI-compatible API through the official ``openai`` package: the parameters that
must be honoured, real usage, clear 400s, the fallback sign, and approvals that answer at
once and are never duplicated by a client's retry. The agent is real (real embeddings,
real skills); the model is a small scripted one that records what it was asked."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from qira.agent import Agent, SkillRegistry
from qira.api.openai import openai_routes
from qira.config import AgentConfig, SkillsConfig
from qira.devices import DeviceKind
from qira.inference import Finish, TextDelta, Usage
from tests.agent import _skills
from tests.agent._fakes import ListMemory, RecordingGateway, ScriptedModel, device

openai = pytest.importorskip("openai")
pytestmark = pytest.mark.anyio

TOKEN = "device-token-phone"


@pytest.fixture
def anyio_backend():
    return "asyncio"


class FellBack:
    """A model turn that says the cloud failed and the local model answered (as InferenceService's Turn does)."""

    def __init__(self, deltas: list[Any]) -> None:
        self.deltas = deltas
        self.fallback = "the gigafactory endpoint failed before answering (503); the local model answered"
        self.answered_by = type("T", (), {"value": "local"})()

    def __aiter__(self):
        return self._run()

    async def _run(self):
        for d in self.deltas:
            yield d


class Harness:
    def __init__(self, agent: Agent, model: ScriptedModel, gateway: RecordingGateway, client: Any) -> None:
        self.agent, self.model, self.gateway, self.client = agent, model, gateway, client


@pytest.fixture
async def api(tmp_path, embedder):
    gateway = RecordingGateway([device("phone", DeviceKind.PHONE), device("pc", DeviceKind.PC)])
    model = ScriptedModel(
        default=lambda request: [
            TextDelta(text="A short answer."),
            Usage(prompt_tokens=42, completion_tokens=4),
            Finish(reason="stop"),
        ]
    )
    agent = Agent(
        config=AgentConfig(),
        skills=SkillsConfig(),
        data_dir=tmp_path,
        embedder=embedder,
        gateway=gateway,
        memory=ListMemory(),
        model=model,
        registry=SkillRegistry([*_skills.ALL], SkillsConfig()),
    )
    await agent.start(warm=False)
    phone = gateway.devices_list[0]
    app = Starlette(routes=openai_routes(agent, lambda token: phone if token == TOKEN else None))
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://qira.test")
    client = openai.AsyncOpenAI(base_url="http://qira.test/v1", api_key=TOKEN, http_client=http, max_retries=0)
    yield Harness(agent, model, gateway, client)
    await http.aclose()
    await agent.stop()


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


async def test_max_tokens_temperature_stop_and_system_reach_the_model(api):
    answer = await api.client.chat.completions.create(
        model="qira",
        max_tokens=5,
        temperature=0.2,
        stop=["\n\n"],
        messages=[{"role": "system", "content": "Answer like a pirate."}, *user("tell me about the ocean")],
    )
    request = api.model.requests[-1]
    assert request.max_tokens == 5 and request.temperature == 0.2 and tuple(request.stop) == ("\n\n",)
    assert "Answer like a pirate." in request.messages[0].content  # the system message reached the model
    assert answer.choices[0].message.content == "A short answer."
    assert answer.usage.prompt_tokens == 42 and answer.usage.completion_tokens == 4 and answer.usage.total_tokens == 46
    await api.client.chat.completions.create(model="qira", max_completion_tokens=7, messages=user("why is grass green"))
    assert api.model.requests[-1].max_tokens == 7


async def test_stream_with_include_usage_ends_with_a_usage_chunk(api):
    stream = await api.client.chat.completions.create(
        model="qira", stream=True, messages=user("how do tides work"), stream_options={"include_usage": True}
    )
    chunks = [c async for c in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "A short answer."
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.prompt_tokens == 42 and chunks[-1].usage.total_tokens == 46


async def test_a_stop_sequence_cuts_a_skill_answer_too(api):
    answer = await api.client.chat.completions.create(model="qira", stop=[", "], messages=user("say hi to Ana"))
    assert answer.choices[0].message.content == "Hello"


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"n": 2}, "n must be 1"),
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]}, "tools"),
        ({"model": "gpt-4o"}, "does not exist"),
        ({"temperature": 3}, "temperature"),
        ({"max_tokens": 0}, "max_tokens"),
    ],
)
async def test_unsupported_parameters_get_a_clear_400(api, params, words):
    kwargs = {"model": "qira", "messages": user("hello"), **params}
    with pytest.raises(openai.BadRequestError) as err:
        await api.client.chat.completions.create(**kwargs)
    assert err.value.status_code == 400 and words in str(err.value)
    assert api.model.requests == []


async def test_a_local_answer_for_a_failed_cloud_is_marked(api):
    api.model.chat = lambda request, device_kind=None: FellBack([TextDelta(text="Local words."), Finish(reason="stop")])
    raw = await api.client.chat.completions.with_raw_response.create(
        model="qira", messages=user("why do rainbows appear")
    )
    assert "local model answered" in raw.headers["x-qira-fallback"]
    body = raw.parse()
    assert body.choices[0].message.content == "Local words."
    assert "failed" in body.model_extra["qira"]["fallback"]


async def test_high_risk_action_answers_pending_at_once_and_a_retry_reuses_the_approval(api):
    _skills.calls.clear()
    first = await asyncio.wait_for(
        api.client.chat.completions.create(model="qira", messages=user("wipe the archive")), 60
    )
    pending = first.model_extra["qira"]["approval"]
    assert pending["status"] == "pending" and pending["skill"] == "wipe"
    assert "approval" in first.choices[0].message.content.lower()
    again = await api.client.chat.completions.create(model="qira", messages=user("wipe the archive"))
    assert again.model_extra["qira"]["approval"]["approval"] == pending["approval"]  # the same one
    assert len(api.gateway.events("approval.request", "phone")) == 1  # asked once, not per retry
    assert len(await api.agent.pending_approvals()) == 1 and _skills.calls == []
    await api.agent.handle_approval_respond(
        api.gateway.devices_list[0], {"approval": pending["approval"], "approve": True}
    )
    for _ in range(600):  # the resumed turn runs in the background
        if _skills.calls:
            break
        await asyncio.sleep(0.05)
    assert _skills.calls == ["wipe"]
    after = await api.client.chat.completions.create(model="qira", messages=user("wipe the archive"))
    assert after.choices[0].message.content == "Archive wiped."  # the outcome, not a second approval
    assert _skills.calls == ["wipe"] and len(api.gateway.events("approval.request", "phone")) == 1
