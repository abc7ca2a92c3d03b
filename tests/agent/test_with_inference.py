"""The planner over the real InferenceService: cloud tool calling against a small
OpenAI-compatible endpoint written for the purpose (SSE over an httpx transport),
and the real local model (SmolLM2 through llama.cpp) for small talk and fallback."""

from __future__ import annotations

import json

import httpx
import pytest

from qira.agent import Agent, SkillRegistry
from qira.config import AgentConfig, CloudConfig, InferenceConfig, SkillsConfig
from qira.devices import DeviceKind
from qira.inference import InferenceService, LocalModel
from skills import chat
from tests.agent import _skills
from tests.agent._fakes import ListMemory, RecordingGateway, device

pytestmark = pytest.mark.anyio


class Gigafactory:
    """``/v1/chat/completions`` that plans one tool call when given tools, then answers
    from the tool result. ``down=True`` answers 503 to everything."""

    def __init__(self, *, down: bool = False) -> None:
        self.down = down
        self.bodies: list[dict] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        if self.down:
            return httpx.Response(503, json={"error": {"message": "down"}})
        tool_results = [m for m in body["messages"] if m["role"] == "tool"]
        if body.get("tools") and not tool_results:
            call = {
                "index": 0,
                "id": "call_1",
                "type": "function",
                "function": {"name": "greet", "arguments": json.dumps({"who": "Bea"})},
            }
            chunks = [
                {"delta": {"role": "assistant", "tool_calls": [call]}},
                {"delta": {}, "finish_reason": "tool_calls"},
            ]
        else:
            answer = f"Done: {tool_results[0]['content']}" if tool_results else "A cloud answer."
            chunks = [{"delta": {"role": "assistant", "content": answer}}, {"delta": {}, "finish_reason": "stop"}]
        lines = [
            f"data: {json.dumps({'id': 'x', 'object': 'chat.completion.chunk', 'choices': [dict(index=0, **c)]})}\n\n"
            for c in chunks
        ]
        return httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=("".join(lines) + "data: [DONE]\n\n").encode()
        )


@pytest.fixture
async def stack(tmp_path, embedder):
    made = []

    async def make(endpoint: Gigafactory | None, skills=tuple(_skills.ALL)):
        cloud = (
            CloudConfig(base_url="http://gigafactory.test/v1", model="big", max_retries=0)
            if endpoint
            else CloudConfig()
        )
        config = InferenceConfig(cloud=cloud)
        local = LocalModel(config.local, socket_dir=tmp_path / "run")
        service = InferenceService(
            config, local=local, data_dir=tmp_path, transport=httpx.MockTransport(endpoint) if endpoint else None
        )
        gateway = RecordingGateway([device("phone", DeviceKind.PHONE)])
        agent = Agent(
            config=AgentConfig(),
            skills=SkillsConfig(),
            data_dir=tmp_path,
            embedder=embedder,
            gateway=gateway,
            memory=ListMemory(),
            model=service,
            registry=SkillRegistry(list(skills), SkillsConfig()),
        )
        await agent.start(warm=False)
        made.append((agent, service, local))
        return agent, gateway

    yield make
    for agent, service, local in made:
        await agent.stop()
        await service.close()
        local.close()


async def ask(agent, gateway, text):
    before = len(gateway.events("chat.done"))
    await agent.handle_chat_send(gateway.devices_list[0], {"text": text})
    return (await gateway.wait_for("chat.done", count=before + 1, timeout=60))[-1]


async def test_cloud_plans_a_tool_call_and_phrases_the_answer(stack):
    endpoint = Gigafactory()
    agent, gateway = await stack(endpoint)
    done = await ask(agent, gateway, "could you be nice to Bea for me")
    assert done["route"] == "cloud" and done["text"] == "Done: Hello, Bea!"
    assert {t["function"]["name"] for t in endpoint.bodies[0]["tools"]} >= {"greet", "wipe"}
    assert [m["role"] for m in endpoint.bodies[1]["messages"]][-2:] == ["assistant", "tool"]


async def test_a_confident_local_match_never_calls_the_endpoint(stack):
    endpoint = Gigafactory()
    agent, gateway = await stack(endpoint)
    done = await ask(agent, gateway, "say hi to Carl")
    assert done == {**done, "text": "Hello, Carl!", "route": "local"} and endpoint.bodies == []


async def test_small_talk_runs_on_the_local_model_and_a_dead_endpoint_does_not_stop_a_turn(stack):
    endpoint = Gigafactory(down=True)
    agent, gateway = await stack(endpoint, skills=[*_skills.ALL, chat.small_talk])
    hello = await ask(agent, gateway, "hello there")
    assert hello["route"] == "local" and hello["text"].strip()  # SmolLM2 said something
    assert endpoint.bodies == []
    open_question = await ask(agent, gateway, "why is the sky blue")  # goes to the cloud, which is down
    assert open_question["text"].strip() and open_question["fallback"] is True  # failed before answering
    assert open_question["degraded"] is False and open_question["reason"]
