import asyncio

import pytest

from qira.agent import Agent, SkillRegistry
from qira.config import AgentConfig, SkillsConfig
from qira.devices import DeviceKind
from tests.agent._fakes import ListMemory, RecordingGateway, ScriptedModel, device


@pytest.fixture
def anyio_backend():
    return "asyncio"


class Harness:
    """An Agent over fakes, with helpers to run one turn and wait for its answer."""

    def __init__(
        self,
        tmp_path,
        embedder,
        skills,
        *,
        model=None,
        grants=None,
        approval_timeout_s=30.0,
        skill_timeout_s=2.0,
        devices=None,
    ) -> None:
        self.tmp_path = tmp_path
        self.gateway = RecordingGateway(devices or [device("phone", DeviceKind.PHONE), device("pc", DeviceKind.PC)])
        self.model = model or ScriptedModel()
        self.memory = ListMemory()
        self.config = AgentConfig(approval_timeout_s=approval_timeout_s, skill_timeout_s=skill_timeout_s)
        self.skills_config = SkillsConfig(grants=grants or {})
        self.skills = list(skills)
        self.embedder = embedder
        self.agent = self._build()

    def _build(self) -> Agent:
        return Agent(
            config=self.config,
            skills=self.skills_config,
            data_dir=self.tmp_path,
            embedder=self.embedder,
            gateway=self.gateway,
            memory=self.memory,
            model=self.model,
            registry=SkillRegistry(self.skills, self.skills_config),
        )

    async def restart(self) -> None:
        await self.agent.stop()
        self.agent = self._build()
        await self.agent.start(warm=False)

    def dev(self, id: str):
        return next(d for d in self.gateway.devices_list if d.id == id)

    async def say(self, text: str, *, by: str = "phone", thread: str | None = None, wait: bool = True) -> dict:
        payload = {"text": text, **({"thread": thread} if thread else {})}
        before = len(self.gateway.events("chat.done", by))
        result = await self.agent.handle_chat_send(self.dev(by), payload)
        if not wait:
            return dict(result)
        done = await self.gateway.wait_for("chat.done", by, count=before + 1)
        return {**result, **done[-1]}


@pytest.fixture
async def make_harness(tmp_path, embedder):
    made: list[Harness] = []

    async def make(skills, **kw) -> Harness:
        h = Harness(tmp_path, embedder, skills, **kw)
        await h.agent.start(warm=False)
        made.append(h)
        return h

    yield make
    for h in made:
        await h.agent.stop()
    await asyncio.sleep(0)
