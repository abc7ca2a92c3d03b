"""The hub side of a skill's context: memory, devices, the schedule, the model, storage."""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..devices import DeviceGateway, DeviceInfo
from ..errors import SkillError
from ..inference import ChatMessage, ChatRequest, MemoryRef, TextDelta, detect_personal_data
from ..memory import Memory, MemoryKind, Scope, SearchHit
from ..sdk import Scheduled
from ._db import AgentDB
from ._ports import MemoryPort, ModelPort
from ._scheduler import Scheduler

__all__ = ["HostServices", "HubSkillHost", "system_info", "visible_hits"]


@dataclass(kw_only=True)
class HostServices:
    """What every skill host shares; one :class:`HubSkillHost` per skill call."""

    db: AgentDB
    scheduler: Scheduler
    data_dir: Path
    gateway: DeviceGateway | None = None
    memory: MemoryPort | None = None
    model: ModelPort | None = None
    notify: Callable[..., Any] | None = None  # Agent.notify(device_id | None, title=, text=, kind=)


class HubSkillHost:
    def __init__(
        self,
        services: HostServices,
        *,
        skill: str,
        device: DeviceInfo,
        network: bool = False,
        namespace: str | None = None,
    ) -> None:
        self._s = services
        self._skill = skill
        self._ns = namespace or skill  # storage is shared by the skills of one module (notes: add + list)
        self._device = device
        self._network = network
        self._recalled: list[MemoryRef] = []  # what this call saw: the router keeps it from leaving if it may not

    def _memory(self) -> MemoryPort:
        if self._s.memory is None:
            raise SkillError("memory is not available on this hub")
        return self._s.memory

    async def memory_search(self, query: str, *, k: int, device: str | None) -> list[SearchHit]:
        hits = await self._memory().search(query, k=k + 4)
        # a skill that may reach the network never sees private memories
        visible = visible_hits(hits, device or self._device.id, private=not self._network)[:k]
        self._recalled.extend(MemoryRef(text=h.memory.text, scope=h.memory.scope.value, score=None) for h in visible)
        return visible

    async def memory_list(self, *, limit: int) -> list[Memory]:
        memories = await self._memory().list(limit=limit)
        return list(memories)[:limit]

    async def memory_add(
        self, text: str, *, kind: MemoryKind, scope: Scope, device: str | None, importance: float, said: str = ""
    ) -> Memory:
        # Whichever skill writes it, personal data is never a shared memory. The person's
        # whole message counts too: a slot may be a mangled copy that the detector misses
        # ("my wifi password is hunter2" -> "wifi hunter2").
        if scope is Scope.SHARED and (detect_personal_data(text) or detect_personal_data(said)):
            scope = Scope.PRIVATE
        result = await self._memory().add(
            text, kind=kind, scope=scope, device=device, importance=importance, actor=f"skill:{self._skill}"
        )
        return getattr(result, "memory", result)

    async def memory_forget(self, memory_id: str) -> None:
        try:
            await self._memory().forget(memory_id, actor=f"skill:{self._skill}")
        except KeyError as exc:
            raise SkillError(f"no memory {memory_id}") from exc

    def devices(self) -> list[DeviceInfo]:
        return self._s.gateway.devices() if self._s.gateway is not None else [self._device]

    async def notify(
        self, device: str | None, *, title: str, text: str, kind: str, data: Mapping[str, Any] | None = None
    ) -> str | None:
        if self._s.notify is None:
            raise SkillError("no devices are reachable from this hub")
        return await self._s.notify(device, title=title, text=text, kind=kind, data=data)

    async def schedule(self, item: Scheduled) -> Scheduled:
        return await self._s.scheduler.add(item, origin_device=self._device.id, skill=self._skill)

    async def scheduled(self) -> list[Scheduled]:
        return await self._s.scheduler.pending()

    async def cancel(self, item_id: str) -> bool:
        return await self._s.scheduler.cancel(item_id)

    async def stream_model(
        self, prompt: str, *, system: str | None, max_tokens: int, cloud: bool
    ) -> AsyncIterator[str]:
        if self._s.model is None:
            raise SkillError("no model is available on this hub")
        messages = ([ChatMessage(role="system", content=system)] if system else []) + [
            ChatMessage(role="user", content=prompt)
        ]
        # The router has no "prefer cloud" input: an open-ended request (no confident skill
        # match) is what it sends to the cloud, still weighed with privacy, health and budget.
        # Without ``cloud`` the skill already matched, so the local model answers.
        request = ChatRequest(
            messages=messages,
            max_tokens=max_tokens,
            temperature=0.3,
            intent_confidence=0.0 if cloud else 1.0,
            memories=self._recalled,
        )
        async for delta in self._s.model.chat(request, device_kind=self._device.kind):
            if isinstance(delta, TextDelta) and delta.text:
                yield delta.text

    async def store_get(self, key: str) -> Any:
        row = await self._s.db.run(
            lambda c: c.execute("SELECT value FROM skill_store WHERE skill = ? AND key = ?", (self._ns, key)).fetchone()
        )
        return json.loads(row[0]) if row else None

    async def store_set(self, key: str, value: Any) -> None:
        text = json.dumps(value)
        await self._s.db.run(
            lambda c: c.execute(
                "INSERT INTO skill_store (skill, key, value) VALUES (?,?,?)"
                " ON CONFLICT(skill, key) DO UPDATE SET value = excluded.value",
                (self._ns, key, text),
            )
        )

    async def store_delete(self, key: str) -> bool:
        cur = await self._s.db.run(
            lambda c: c.execute("DELETE FROM skill_store WHERE skill = ? AND key = ?", (self._ns, key))
        )
        return cur.rowcount > 0

    async def store_items(self) -> dict[str, Any]:
        rows = await self._s.db.run(
            lambda c: c.execute(
                "SELECT key, value FROM skill_store WHERE skill = ? ORDER BY rowid", (self._ns,)
            ).fetchall()
        )
        return {k: json.loads(v) for k, v in rows}

    def system_info(self) -> Mapping[str, Any]:
        return system_info(self._s.data_dir)


def visible_hits(hits: list[Any], device_id: str, *, private: bool = True) -> list[Any]:
    """What the hub may use for a turn from ``device_id``: shared memories, private ones
    (they keep the request local), and this device's own device-scope memories."""
    return [
        h
        for h in hits
        if h.memory.scope is Scope.SHARED
        or (private and h.memory.scope is Scope.PRIVATE)
        or (h.memory.scope is Scope.DEVICE and h.memory.device == device_id)
    ]


def system_info(data_dir: Path) -> dict[str, Any]:
    info: dict[str, Any] = {
        "hostname": socket.gethostname(),
        "os": f"{platform.system()} {platform.release()}",
        "machine": platform.machine(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
    }
    if hasattr(os, "getloadavg"):
        info["load_1m"] = round(os.getloadavg()[0], 2)
    meminfo = _meminfo()
    if meminfo:
        info["memory_total_mb"] = meminfo.get("MemTotal", 0) // 1024
        info["memory_available_mb"] = meminfo.get("MemAvailable", 0) // 1024
    usage = shutil.disk_usage(data_dir)
    info["disk_free_gb"] = round(usage.free / 2**30, 1)
    info["disk_total_gb"] = round(usage.total / 2**30, 1)
    try:
        info["uptime_s"] = int(float(Path("/proc/uptime").read_text().split()[0]))
    except (OSError, ValueError, IndexError):
        info["uptime_s"] = None
    info["time"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    return info


def _meminfo() -> dict[str, int]:
    try:
        lines = Path("/proc/meminfo").read_text().splitlines()
    except OSError:
        return {}
    out = {}
    for line in lines:
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            out[key] = int(parts[0])
    return out
