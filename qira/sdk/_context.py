"""The one object a skill receives: everything it may touch, gated by what it was granted.

The hub (and :mod:`qira.sdk.testing`) implement :class:`SkillHost`; the context is
the gate in front of it. A use of something not granted raises
:class:`~qira.errors.PermissionDenied`, which fails that step with a clear message.
Python cannot sandbox code in-process: the gate is a contract for well-behaved
skills and a record for the audit log, not a jail.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from ..devices import DeviceInfo
from ..errors import PermissionDenied
from ..memory._types import Memory, MemoryKind, Scope, SearchHit
from ._skill import Permission

__all__ = ["Scheduled", "SkillContext", "SkillHost"]


@dataclass(frozen=True, kw_only=True)
class Scheduled:
    """A reminder or timer the proactive loop will deliver."""

    id: str
    due_at: float  # unix time
    title: str
    text: str
    kind: str = "reminder"
    device: str | None = None  # None: whichever device the person is using then
    # a context trigger instead of a time: ("place", "home") fires on the next
    # context event of that kind and value from any device
    on_context: tuple[str, str] | None = None


class SkillHost(Protocol):
    """What the hub provides behind the context (one per skill call)."""

    async def memory_search(self, query: str, *, k: int, device: str | None) -> list[SearchHit]: ...
    async def memory_list(self, *, limit: int) -> list[Memory]: ...
    async def memory_add(
        self, text: str, *, kind: MemoryKind, scope: Scope, device: str | None, importance: float, said: str
    ) -> Memory: ...
    async def memory_forget(self, memory_id: str) -> None: ...
    def devices(self) -> list[DeviceInfo]: ...
    async def notify(
        self, device: str | None, *, title: str, text: str, kind: str, data: Mapping[str, Any] | None = None
    ) -> str | None: ...
    async def schedule(self, item: Scheduled) -> Scheduled: ...
    async def scheduled(self) -> list[Scheduled]: ...
    async def cancel(self, item_id: str) -> bool: ...
    def stream_model(self, prompt: str, *, system: str | None, max_tokens: int, cloud: bool) -> AsyncIterator[str]: ...
    async def store_get(self, key: str) -> Any: ...
    async def store_set(self, key: str, value: Any) -> None: ...
    async def store_delete(self, key: str) -> bool: ...
    async def store_items(self) -> dict[str, Any]: ...
    def system_info(self) -> Mapping[str, Any]: ...


@dataclass(kw_only=True)
class SkillContext:
    """Passed as the first argument of every skill call."""

    skill: str
    device: DeviceInfo  # the device the person asked from
    thread: str
    turn: str
    text: str  # the person's words for this turn
    granted: frozenset[Permission]
    history: tuple[Mapping[str, str], ...] = ()  # the thread so far: {"role", "content"}, oldest first
    host: SkillHost = field(repr=False)
    used: set[Permission] = field(default_factory=set)  # for the audit log

    @property
    def log(self) -> logging.Logger:
        return logging.getLogger(f"qira.skill.{self.skill}")

    def now(self) -> datetime:
        """The current local time, timezone-aware."""
        return datetime.now().astimezone()

    def require(self, permission: Permission | str, why: str = "") -> None:
        """Check a grant (and record its use); raises PermissionDenied when not granted."""
        permission = Permission(permission)
        if permission not in self.granted:
            reason = f" (needed to {why})" if why else ""
            raise PermissionDenied(f"skill {self.skill!r} was not granted the {permission.value!r} permission{reason}")
        self.used.add(permission)

    # -- memory ----------------------------------------------------------

    async def recall(self, query: str, *, k: int = 5) -> list[SearchHit]:
        """Search the person's memories (``memory.read``)."""
        self.require(Permission.MEMORY_READ, "search memory")
        return await self.host.memory_search(query, k=k, device=self.device.id)

    async def memories(self, *, limit: int = 50) -> list[Memory]:
        """The most recent memories (``memory.read``)."""
        self.require(Permission.MEMORY_READ, "list memories")
        return await self.host.memory_list(limit=limit)

    async def remember(
        self,
        text: str,
        *,
        kind: MemoryKind | str = MemoryKind.FACT,
        scope: Scope | str = Scope.SHARED,
        importance: float = 0.5,
    ) -> Memory:
        """Add a memory (``memory.write``); a near-duplicate updates the existing one.

        A memory written from words that hold personal data (in ``text`` or in the
        person's whole message) is stored ``private`` whatever ``scope`` asks: check the
        returned memory's ``scope``."""
        self.require(Permission.MEMORY_WRITE, "write memory")
        return await self.host.memory_add(
            text,
            kind=MemoryKind(kind),
            scope=Scope(scope),
            device=self.device.id,
            importance=importance,
            said=self.text,
        )

    async def forget(self, memory_id: str) -> None:
        """Forget a memory (``memory.write``)."""
        self.require(Permission.MEMORY_WRITE, "forget a memory")
        await self.host.memory_forget(memory_id)

    # -- devices and the proactive loop ------------------------------------

    def devices(self) -> list[DeviceInfo]:
        """The person's paired devices, online or not (``notify``)."""
        self.require(Permission.NOTIFY, "see your devices")
        return self.host.devices()

    async def notify(
        self,
        text: str,
        *,
        title: str = "Qira",
        device: str | None = None,
        kind: str = "info",
        data: Mapping[str, Any] | None = None,
    ) -> str | None:
        """Show a notification (``notify``) on ``device`` (an id), or on the device the
        person is most likely using. ``data`` travels with it (a thread id for a handoff).
        Returns the device id it went to."""
        self.require(Permission.NOTIFY, "notify your devices")
        return await self.host.notify(device, title=title, text=text, kind=kind, data=data)

    async def schedule(
        self,
        text: str,
        *,
        at: datetime | float | None = None,
        delay_s: float | None = None,
        title: str = "Reminder",
        kind: str = "reminder",
        device: str | None = None,
        on_context: tuple[str, str] | None = None,
    ) -> Scheduled:
        """Deliver a notification later (``notify``): at a time, after a delay, or on a
        context event (``on_context=("place", "home")``). Survives a hub restart."""
        self.require(Permission.NOTIFY, "schedule a reminder")
        if sum(x is not None for x in (at, delay_s, on_context)) != 1:
            raise ValueError("give exactly one of at=, delay_s= or on_context=")
        if on_context is not None:
            due = float("inf")
        elif delay_s is not None:
            due = time.time() + float(delay_s)
        elif isinstance(at, datetime):
            due = at.timestamp()
        else:
            assert at is not None  # exactly one of the three was given
            due = float(at)
        item = Scheduled(id="", due_at=due, title=title, text=text, kind=kind, device=device, on_context=on_context)
        return await self.host.schedule(item)

    async def scheduled(self) -> list[Scheduled]:
        """Pending reminders and timers (``notify``)."""
        self.require(Permission.NOTIFY, "list reminders")
        return await self.host.scheduled()

    async def cancel(self, item_id: str) -> bool:
        self.require(Permission.NOTIFY, "cancel a reminder")
        return await self.host.cancel(item_id)

    # -- models ------------------------------------------------------------

    def stream(
        self, prompt: str, *, system: str | None = None, max_tokens: int = 200, cloud: bool = False
    ) -> AsyncIterator[str]:
        """Ask the hub's model, streaming text. ``cloud=True`` prefers the cloud endpoint
        (``network``); otherwise the router decides, and private context stays local."""
        if cloud:
            self.require(Permission.NETWORK, "use the cloud model")
        return self.host.stream_model(prompt, system=system, max_tokens=max_tokens, cloud=cloud)

    async def complete(
        self, prompt: str, *, system: str | None = None, max_tokens: int = 200, cloud: bool = False
    ) -> str:
        parts = [chunk async for chunk in self.stream(prompt, system=system, max_tokens=max_tokens, cloud=cloud)]
        return "".join(parts).strip()

    # -- the skill's own storage (no permission: it sees only its own keys, shared
    #    with the skills defined in the same module) ----------------------------

    async def get(self, key: str, default: Any = None) -> Any:
        value = await self.host.store_get(key)
        return default if value is None else value

    async def put(self, key: str, value: Any) -> None:
        """Store a JSON-serialisable value under ``key`` (survives restarts)."""
        await self.host.store_set(key, value)

    async def delete(self, key: str) -> bool:
        return await self.host.store_delete(key)

    async def items(self) -> dict[str, Any]:
        return await self.host.store_items()

    # -- the machine -------------------------------------------------------

    def system_info(self) -> Mapping[str, Any]:
        """OS, CPU, memory, disk and uptime of the hub's machine (``system``)."""
        self.require(Permission.SYSTEM, "read system information")
        return self.host.system_info()
