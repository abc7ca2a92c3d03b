"""Purpose-built fakes for the agent's ports: a scripted model, a recording gateway,
a small in-memory memory store. (Not mocks of our classes: each is a tiny working
implementation of the port.)"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from qira.devices import DeviceInfo, DeviceKind
from qira.inference import ChatRequest, Finish, RouteDecision, Target, TextDelta, ToolCall, ToolCallDelta
from qira.memory import Memory, MemoryKind, Scope, SearchHit


def text(*chunks: str) -> list[Any]:
    return [TextDelta(text=c) for c in chunks] + [Finish(reason="stop")]


def tool(name: str, arguments: str, call_id: str = "call-1") -> list[Any]:
    return [ToolCallDelta(call=ToolCall(id=call_id, name=name, arguments=arguments)), Finish(reason="tool_calls")]


class ScriptedModel:
    """Answers each chat() with the next scripted list of deltas (or a function of the request).
    Routes to ``target``. Records every request."""

    name = "scripted"

    def __init__(
        self,
        script: Sequence[Any] = (),
        *,
        target: Target = Target.LOCAL,
        default: Callable[[ChatRequest], list[Any]] | None = None,
    ) -> None:
        self.script = list(script)
        self.target = target
        self.default = default or (lambda request: text("ok"))
        self.requests: list[ChatRequest] = []
        self.routed: list[ChatRequest] = []

    def route(self, request: ChatRequest, *, device_kind: Any = None) -> RouteDecision:
        self.routed.append(request)
        return RouteDecision(target=self.target, reasons=(f"scripted: {self.target.value}",))

    async def chat(self, request: ChatRequest, *, device_kind: Any = None) -> AsyncIterator[Any]:
        self.requests.append(request)
        step = self.script.pop(0) if self.script else self.default
        deltas = step(request) if callable(step) else step
        for delta in deltas:
            if isinstance(delta, BaseException):
                raise delta
            yield delta


@dataclass
class RecordingGateway:
    """Devices in a list; every push/send recorded as (device id, type, payload)."""

    devices_list: list[DeviceInfo] = field(default_factory=list)
    pushed: list[tuple[str, str, dict]] = field(default_factory=list)
    sent: list[tuple[str, str, dict]] = field(default_factory=list)
    seq: Any = field(default_factory=lambda: itertools.count(1))
    changed: asyncio.Event | None = None

    def devices(self) -> list[DeviceInfo]:
        return list(self.devices_list)

    async def push(self, device_id: str, type: str, payload: Mapping[str, Any]) -> int:
        self.pushed.append((device_id, type, dict(payload)))
        self._poke()
        return next(self.seq)

    async def send(self, device_id: str, type: str, payload: Mapping[str, Any]) -> bool:
        online = any(d.id == device_id and d.online for d in self.devices_list)
        if online:
            self.sent.append((device_id, type, dict(payload)))
            self._poke()
        return online

    def _poke(self) -> None:
        if self.changed is not None:
            self.changed.set()

    def events(self, type: str, device: str | None = None) -> list[dict]:
        return [p for d, t, p in [*self.pushed, *self.sent] if t == type and (device is None or d == device)]

    async def wait_for(
        self, type: str, device: str | None = None, *, count: int = 1, timeout: float = 60.0
    ) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.events(type, device)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"no {type} for {device}: pushed={self.pushed} sent={self.sent}")
            await asyncio.sleep(0.01)
        return self.events(type, device)


def device(
    id: str, kind: DeviceKind = DeviceKind.PHONE, *, online: bool = True, active: float | None = None, **caps: Any
) -> DeviceInfo:
    return DeviceInfo(
        id=id,
        name=id,
        kind=kind,
        online=online,
        last_seen=time.time(),
        last_active=active if active is not None else time.time(),
        capabilities=caps,
    )


class ListMemory:
    """The memory port over a list: word-overlap search."""

    def __init__(self) -> None:
        self.items: list[Memory] = []
        self._ids = itertools.count(1)

    async def add(
        self,
        text: str,
        *,
        kind: MemoryKind = MemoryKind.FACT,
        scope: Scope = Scope.SHARED,
        device: str | None = None,
        importance: float = 0.5,
        expires_at: float | None = None,
        actor: str | None = None,
    ) -> Any:
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
        self.items.append(memory)
        return memory

    async def search(self, query: str, *, k: int = 5, device: str | None = None, **_: Any) -> list[SearchHit]:
        words = {w.strip(".,?!'").lower() for w in query.split() if len(w) > 2}
        hits = [
            SearchHit(
                memory=m, score=len(words & {w.strip(".,?!'").lower() for w in m.text.split()}) / max(len(words), 1)
            )
            for m in self.items
        ]
        return sorted((h for h in hits if h.score > 0), key=lambda h: -h.score)[:k]

    async def forget(self, memory_id: str, *, actor: str | None = None) -> None:
        self.items = [m for m in self.items if m.id != memory_id]

    async def list(self, *, limit: int = 50, **_: Any) -> list[Memory]:
        return list(reversed(self.items))[:limit]
