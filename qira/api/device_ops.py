"""Hub-level operations for devices: the hub's status, its settings, the device list and
the pending approvals (``docs/protocol.md``, "Hub status and settings").

What a face (the companion, the tray) needs to show the hub as a whole, spoken over the
protocol like everything else. ``qira/hub.py`` registers the handlers with the sync layer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

from pycrdt import Map

from .. import __version__
from ..agent import Agent, AuditEntry, Outcome
from ..config import POLICIES, Policy
from ..devices import DeviceInfo, MessageHandler
from ..errors import ProtocolError
from ..health import Health
from ..inference import InferenceService
from ..sync import SyncServer

__all__ = ["DeviceOps", "POLICY_KEY", "SETTINGS_MAP"]

log = logging.getLogger("qira.api")

SETTINGS_MAP = "hub"  # the Y.Map of the ``settings`` document that the hub writes
POLICY_KEY = "inference.policy"


class DeviceOps:
    def __init__(self, *, health: Health, inference: InferenceService, sync: SyncServer, agent: Agent) -> None:
        self.health = health
        self.inference = inference
        self.sync = sync
        self.agent = agent
        self._greeted: set[str] = set()  # online devices that have had their first hub.status
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broadcast_due = False

    def handlers(self) -> dict[str, MessageHandler]:
        return {
            "hub.status": self.handle_status,
            "settings.set": self.handle_settings_set,
            "devices.list": self.handle_devices_list,
            "approval.list": self.handle_approval_list,
        }

    async def start(self) -> None:
        """After the sync layer has loaded the documents: apply the stored policy, then watch."""
        self._loop = asyncio.get_running_loop()
        stored = self.sync.doc("settings").get(SETTINGS_MAP, type=Map)
        policy = stored.get(POLICY_KEY) if stored is not None else None
        if policy in POLICIES:
            self.inference.router.policy = policy
        self.health.subscribe(self._status_changed)
        self.sync.on_presence(self._presence)

    # -- hub.status ----------------------------------------------------------

    def status(self) -> dict[str, Any]:
        cloud = self.health.get("cloud")
        return {
            "version": __version__,
            "state": self.health.summary.value,
            "policy": self.inference.router.policy,
            "cloud": cloud.state.value if cloud is not None else "unknown",
            "components": self.health.as_json(),
        }

    async def handle_status(self, device: DeviceInfo, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        _no_fields("hub.status", payload)
        return self.status()

    def _presence(self, info: DeviceInfo) -> None:
        # a device that has just come online gets the hub's status once, right after its hello
        if not info.online:
            self._greeted.discard(info.id)
        elif info.id not in self._greeted:
            self._greeted.add(info.id)
            self._spawn(self.sync.send(info.id, "hub.status", self.status()))

    def _status_changed(self) -> None:
        # health changes come in bursts (start-up): coalesce them into one event per loop turn
        if self._loop is None or self._broadcast_due:
            return
        self._broadcast_due = True
        self._loop.call_soon_threadsafe(self._broadcast)

    def _broadcast(self) -> None:
        self._broadcast_due = False
        status = self.status()
        for device in self.sync.devices():
            if device.online:
                self._spawn(self.sync.send(device.id, "hub.status", status))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        task.add_done_callback(_log_failure)

    # -- settings.set --------------------------------------------------------

    async def handle_settings_set(self, device: DeviceInfo, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        unknown = set(payload) - {"key", "value"}
        if unknown:
            raise ProtocolError(f"settings.set has no field {sorted(unknown)[0]!r}", code="invalid_params")
        key, value = payload.get("key"), payload.get("value")
        if key != POLICY_KEY:
            raise ProtocolError(f"settings.set: unknown key {key!r}; settable: {POLICY_KEY}", code="invalid_params")
        if value not in POLICIES:
            raise ProtocolError(f"{POLICY_KEY} must be one of {', '.join(POLICIES)}", code="invalid_params")
        policy: Policy = value
        previous = self.inference.router.policy
        self.inference.router.policy = policy
        async with self.sync.edit("settings") as doc:
            doc.get(SETTINGS_MAP, type=Map)[POLICY_KEY] = policy
        await self.agent.audit.append(
            AuditEntry(
                ts=time.time(),
                skill="settings",
                action=f"set {POLICY_KEY} = {policy!r} (was {previous!r})",
                outcome=Outcome.OK,
                device=device.id,
                device_name=device.name,
            )
        )
        self._status_changed()
        return {"key": POLICY_KEY, "value": policy, "previous": previous}

    # -- devices.list, approval.list -----------------------------------------

    async def handle_devices_list(self, device: DeviceInfo, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        _no_fields("devices.list", payload)
        return {"devices": [d.presence() for d in self.sync.devices()]}

    async def handle_approval_list(self, device: DeviceInfo, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        _no_fields("approval.list", payload)
        now = time.time()
        rows = await self.agent.pending_approvals()
        return {
            "approvals": [
                {
                    "approval": r["id"],
                    "skill": r["skill"],
                    "summary": r["summary"],
                    "risk": r["risk"],
                    "expires_at": r["expires_at"],
                    "thread": r["thread"],
                    "turn": r["turn"],
                }
                for r in sorted(rows, key=lambda r: r["created_at"])
                if r["expires_at"] > now
            ]
        }


def _no_fields(type_: str, payload: Mapping[str, Any]) -> None:
    if payload:
        raise ProtocolError(f"{type_} takes no fields (got {sorted(payload)[0]!r})", code="invalid_params")


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("sending hub.status failed", exc_info=task.exception())
