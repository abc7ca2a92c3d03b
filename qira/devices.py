"""What the agent core knows about devices, and the port it reaches them through.

The sync layer implements :class:`DeviceGateway`; the agent and the skill SDK use
it without importing ``qira.sync`` (dependencies point down the picture).
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["DeviceGateway", "DeviceInfo", "DeviceKind", "MessageHandler"]


class DeviceKind(enum.StrEnum):
    PC = "pc"
    PHONE = "phone"
    TABLET = "tablet"
    WEARABLE = "wearable"


@dataclass(frozen=True, kw_only=True)
class DeviceInfo:
    id: str
    name: str
    kind: DeviceKind
    online: bool = False
    last_seen: float | None = None  # unix time of the last frame from it
    last_active: float | None = None  # unix time of the last thing the person did on it
    capabilities: Mapping[str, Any] = field(
        default_factory=dict
    )  # screen, audio_in, audio_out, battery, runs_model, worn

    def presence(self) -> dict[str, Any]:
        """The device as the wire shows it: a ``presence`` event, an entry of ``devices.list``."""
        return {
            "device": self.id,
            "name": self.name,
            "kind": self.kind.value,
            "online": self.online,
            "last_seen": self.last_seen,
            "last_active": self.last_active,
            "capabilities": dict(self.capabilities),
        }


class DeviceGateway(Protocol):
    """How the hub's core reaches devices."""

    def devices(self) -> list[DeviceInfo]:
        """Every paired, unrevoked device, online or not."""
        ...

    async def push(self, device_id: str, type: str, payload: Mapping[str, Any]) -> int:
        """Queue a hub->device event; returns its hub sequence number.

        Durable: a device that is offline receives it when it resumes."""
        ...

    async def send(self, device_id: str, type: str, payload: Mapping[str, Any]) -> bool:
        """Send an ephemeral event (a streamed delta, presence) if the device is online now.

        Not stored, not resumed; returns whether it was sent."""
        ...


# An application message from a device (``chat.send``, ``memory.search``, ...):
# the hub registers one handler per type with the sync layer. It returns the
# ``result`` payload, or raises a ``ProtocolError`` (whose ``code`` goes on the wire).
MessageHandler = Callable[[DeviceInfo, Mapping[str, Any]], Awaitable[Mapping[str, Any]]]
