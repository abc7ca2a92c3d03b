"""Test a skill without a hub: an in-memory host that records what the skill did.

::

    from qira.sdk.testing import FakeHost

    def test_greet():
        host = FakeHost()
        reply = host.call(greet, who="Ana")
        assert reply.text == "Hello, Ana!"

Grants default to what the skill declares; pass ``grants=`` to test a refusal,
``utterance=`` for the person's words, ``as_device=`` to ask from another device.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..devices import DeviceInfo, DeviceKind
from ..errors import MemoryNotFound
from ..memory._types import Memory, MemoryKind, Scope, SearchHit
from ..privacy import detect_personal_data
from ._context import Scheduled, SkillContext
from ._invoke import invoke
from ._skill import Permission, Reply, Skill

__all__ = ["FakeHost", "Notification"]


@dataclass(frozen=True, kw_only=True)
class Notification:
    device: str | None
    title: str
    text: str
    kind: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True)
class FakeHost:
    """Memory, devices, a model and storage, all in memory. Inspect the lists after a call."""

    devices_list: list[DeviceInfo] = field(
        default_factory=lambda: [
            DeviceInfo(id="dev-pc", name="pc", kind=DeviceKind.PC, online=True, last_active=time.time())
        ]
    )
    memories_list: list[Memory] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    scheduled_list: list[Scheduled] = field(default_factory=list)
    store: dict[str, Any] = field(default_factory=dict)
    # the model: a function from prompt to answer (default: echoes the prompt)
    model: Callable[[str], str] = lambda prompt: prompt
    prompts: list[str] = field(default_factory=list)
    info: Mapping[str, Any] = field(default_factory=lambda: {"os": "TestOS", "cpu_count": 2})
    _ids: Any = field(default_factory=lambda: itertools.count(1), repr=False)

    # -- running a skill -----------------------------------------------------

    async def run(
        self,
        skill: Skill,
        /,
        *,
        utterance: str = "",
        grants: Iterable[Permission | str] | None = None,
        as_device: DeviceInfo | None = None,
        history: Iterable[Mapping[str, str]] = (),
        arguments: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Reply:
        """Call ``skill`` with its parameters as keyword arguments (or in ``arguments=``,
        for a parameter named like one of these options)."""
        granted = skill.permissions if grants is None else frozenset(Permission(g) for g in grants)
        arguments = {**(arguments or {}), **kwargs}
        ctx = SkillContext(
            skill=skill.name,
            device=as_device or self.devices_list[0],
            thread="test-thread",
            turn=uuid.uuid4().hex[:8],
            text=utterance,
            granted=frozenset(granted),
            history=tuple(history),
            host=self,
        )
        return await invoke(skill, ctx, skill.coerce(arguments))

    def call(self, skill: Skill, /, **kwargs: Any) -> Reply:
        """:meth:`run` for tests that are not async."""
        return asyncio.run(self.run(skill, **kwargs))

    # -- the SkillHost protocol ------------------------------------------------

    async def memory_search(self, query: str, *, k: int, device: str | None) -> list[SearchHit]:
        words = {w.strip(".,?!").lower() for w in query.split() if len(w) > 2}
        hits = []
        for memory in self.memories_list:
            overlap = len(words & {w.strip(".,?!").lower() for w in memory.text.split()})
            if overlap:
                hits.append(SearchHit(memory=memory, score=overlap / max(len(words), 1)))
        return sorted(hits, key=lambda h: -h.score)[:k]

    async def memory_list(self, *, limit: int) -> list[Memory]:
        return list(reversed(self.memories_list))[:limit]

    async def memory_add(
        self, text: str, *, kind: MemoryKind, scope: Scope, device: str | None, importance: float, said: str = ""
    ) -> Memory:
        if scope is Scope.SHARED and (detect_personal_data(text) or detect_personal_data(said)):
            scope = Scope.PRIVATE  # as the hub does
        now = time.time()
        memory = Memory(
            id=f"m{next(self._ids)}",
            text=text,
            kind=kind,
            scope=scope,
            device=device,
            importance=importance,
            created_at=now,
            updated_at=now,
        )
        self.memories_list.append(memory)
        return memory

    async def memory_forget(self, memory_id: str) -> None:
        before = len(self.memories_list)
        self.memories_list = [m for m in self.memories_list if m.id != memory_id]
        if len(self.memories_list) == before:
            raise MemoryNotFound(f"no memory {memory_id}")

    def devices(self) -> list[DeviceInfo]:
        return list(self.devices_list)

    async def notify(
        self, device: str | None, *, title: str, text: str, kind: str, data: Mapping[str, Any] | None = None
    ) -> str | None:
        target = device or (self.devices_list[0].id if self.devices_list else None)
        self.notifications.append(Notification(device=target, title=title, text=text, kind=kind, data=dict(data or {})))
        return target

    async def schedule(self, item: Scheduled) -> Scheduled:
        item = replace(item, id=f"s{next(self._ids)}")
        self.scheduled_list.append(item)
        return item

    async def scheduled(self) -> list[Scheduled]:
        return sorted(self.scheduled_list, key=lambda s: s.due_at)

    async def cancel(self, item_id: str) -> bool:
        before = len(self.scheduled_list)
        self.scheduled_list = [s for s in self.scheduled_list if s.id != item_id]
        return len(self.scheduled_list) < before

    async def stream_model(
        self, prompt: str, *, system: str | None, max_tokens: int, cloud: bool
    ) -> AsyncIterator[str]:
        self.prompts.append(prompt)
        yield self.model(prompt)

    async def store_get(self, key: str) -> Any:
        return self.store.get(key)

    async def store_set(self, key: str, value: Any) -> None:
        self.store[key] = value

    async def store_delete(self, key: str) -> bool:
        return self.store.pop(key, None) is not None

    async def store_items(self) -> dict[str, Any]:
        return dict(self.store)

    def system_info(self) -> Mapping[str, Any]:
        return dict(self.info)
