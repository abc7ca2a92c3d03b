"""The tray's state and what it shows: pure functions, no display, no I/O.

Everything the icon, the tooltip and the menu show is derived from one frozen
``TrayState``; the controller replaces it as protocol events arrive and the
backend (Qt today, another toolkit on another OS) only draws what these
functions return.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

__all__ = [
    "Approval",
    "DeviceRow",
    "HubStatus",
    "Icon",
    "IconSpec",
    "Link",
    "TrayState",
    "apply_event",
    "describe_device",
    "expires_in",
    "headline",
    "icon_for",
    "tooltip_for",
    "with_approvals",
    "with_devices",
]


class Link(enum.Enum):
    CONNECTING = "connecting"
    ONLINE = "online"
    UNREACHABLE = "unreachable"
    STOPPED = "stopped"  # the hub refused this device for good (revoked, replaced, auth failed)


class Icon(enum.Enum):
    READY = "ready"
    WARMING = "warming"
    UNREACHABLE = "unreachable"
    CLOUD_PAUSED = "cloud-paused"
    CLOUD_FAILING = "cloud-failing"
    ERROR = "error"  # a part of the hub other than the cloud is failing


@dataclass(frozen=True, kw_only=True)
class IconSpec:
    icon: Icon
    color: tuple[int, int, int]
    glyph: str  # one character drawn in the middle
    badge: int  # approvals waiting; 0: no badge


# Colours chosen to differ in brightness too, so they stay distinguishable in grey-scale trays.
_LOOK: dict[Icon, tuple[tuple[int, int, int], str]] = {
    Icon.READY: ((46, 160, 67), "Q"),
    Icon.WARMING: ((230, 160, 20), "…"),
    Icon.UNREACHABLE: ((120, 120, 120), "×"),
    Icon.CLOUD_PAUSED: ((40, 110, 220), "L"),
    Icon.CLOUD_FAILING: ((220, 60, 40), "!"),
    Icon.ERROR: ((160, 30, 30), "!"),
}


@dataclass(frozen=True, kw_only=True)
class HubStatus:
    state: str = "unknown"  # ready | warming | error | unknown (a hub without hub.status)
    policy: str = "unknown"  # local-only | prefer-local | prefer-cloud
    cloud: str = "unknown"  # off | unknown | ready | error
    version: str = ""
    failing: tuple[str, ...] = ()  # "component: reason" for every component in error
    warming: tuple[str, ...] = ()  # the components still warming up

    @classmethod
    def from_wire(cls, payload: Mapping[str, Any]) -> HubStatus:
        components = payload.get("components")
        failing: list[str] = []
        warming: list[str] = []
        if isinstance(components, Mapping):
            for name, comp in sorted(components.items()):
                if isinstance(comp, Mapping) and comp.get("state") == "error":
                    failing.append(f"{name}: {comp.get('reason') or 'failing'}")
                elif isinstance(comp, Mapping) and comp.get("state") == "warming":
                    warming.append(str(name).replace("_", " "))
        return cls(
            state=str(payload.get("state") or "unknown"),
            policy=str(payload.get("policy") or "unknown"),
            cloud=str(payload.get("cloud") or "unknown"),
            version=str(payload.get("version") or ""),
            failing=tuple(failing),
            warming=tuple(warming),
        )


@dataclass(frozen=True, kw_only=True)
class Approval:
    id: str
    skill: str
    summary: str
    expires_at: float | None = None

    @classmethod
    def from_wire(cls, payload: Mapping[str, Any]) -> Approval | None:
        approval = payload.get("approval")
        if not isinstance(approval, str) or not approval:
            return None
        expires = payload.get("expires_at")
        return cls(
            id=approval,
            skill=str(payload.get("skill") or "a skill"),
            summary=str(payload.get("summary") or payload.get("skill") or "an action"),
            expires_at=float(expires) if isinstance(expires, int | float) else None,
        )


@dataclass(frozen=True, kw_only=True)
class DeviceRow:
    id: str
    name: str
    kind: str
    online: bool
    battery: float | None = None

    @classmethod
    def from_wire(cls, payload: Mapping[str, Any]) -> DeviceRow | None:
        device = payload.get("device")
        if not isinstance(device, str) or not device:
            return None
        caps = payload.get("capabilities")
        battery = caps.get("battery") if isinstance(caps, Mapping) else None
        if isinstance(battery, bool) or not isinstance(battery, int | float):
            battery = None  # null on mains power; anything else is not a charge
        return cls(
            id=device,
            name=str(payload.get("name") or device),
            kind=str(payload.get("kind") or "?"),
            online=bool(payload.get("online")),
            battery=None if battery is None else float(battery),
        )


@dataclass(frozen=True, kw_only=True)
class TrayState:
    companion_url: str  # the hub's HTTP address: the companion web app lives at "/"
    link: Link = Link.CONNECTING
    status: HubStatus | None = None
    approvals: tuple[Approval, ...] = ()
    devices: tuple[DeviceRow, ...] = ()
    device_id: str | None = None  # this tray's own id, once connected
    hub_local: bool = True  # the hub is on this machine: the tray can start it
    hub_started_here: bool = False  # a hub this tray started is running (so the tray can stop it)
    autostart: bool = False
    closed_reason: str = ""

    @property
    def cloud_paused(self) -> bool:
        return self.status is not None and self.status.policy == "local-only"


def apply_event(state: TrayState, event: Mapping[str, Any]) -> TrayState:
    """The state after one session event (hub events plus the session's own ``session.*``)."""
    kind = event.get("type")
    if kind == "session.ready":
        return replace(
            state, link=Link.ONLINE, device_id=str(event.get("device_id") or state.device_id or ""), closed_reason=""
        )
    if kind == "session.disconnected":
        return replace(state, link=Link.UNREACHABLE) if state.link is not Link.STOPPED else state
    if kind in ("session.closed", "session.error"):
        reason = str(event.get("reason") or event.get("message") or event.get("code") or "closed by the hub")
        return replace(state, link=Link.STOPPED, closed_reason=reason)
    if kind == "hub.status":
        return replace(state, status=HubStatus.from_wire(event))
    if kind == "presence":
        row = DeviceRow.from_wire(event)
        if row is None:
            return state
        others = tuple(d for d in state.devices if d.id != row.id)
        return replace(state, devices=_sorted_devices((*others, row)))
    if kind == "approval.request":
        approval = Approval.from_wire(event)
        if approval is None or any(a.id == approval.id for a in state.approvals):
            return state
        return replace(state, approvals=(*state.approvals, approval))
    if kind == "approval.resolved":
        gone = event.get("approval")
        return replace(state, approvals=tuple(a for a in state.approvals if a.id != gone))
    return state


def with_devices(state: TrayState, devices: Sequence[Mapping[str, Any]]) -> TrayState:
    """The answer of ``devices.list`` replaces what presence events built up."""
    rows = [r for r in (DeviceRow.from_wire(d) for d in devices if isinstance(d, Mapping)) if r is not None]
    return replace(state, devices=_sorted_devices(rows))


def with_approvals(state: TrayState, approvals: Sequence[Mapping[str, Any]]) -> TrayState:
    """The answer of ``approval.list``: the approvals still pending at the hub."""
    rows = [a for a in (Approval.from_wire(p) for p in approvals if isinstance(p, Mapping)) if a is not None]
    unique = {a.id: a for a in rows}
    return replace(state, approvals=tuple(unique.values()))


def _sorted_devices(rows: Sequence[DeviceRow]) -> tuple[DeviceRow, ...]:
    return tuple(sorted(rows, key=lambda d: (not d.online, d.name.lower())))


def _others(state: TrayState) -> list[DeviceRow]:
    return [d for d in state.devices if d.id != state.device_id]


def icon_for(state: TrayState) -> IconSpec:
    """The one icon that says the most important thing; approvals add a badge whatever it is."""
    icon = _icon(state)
    color, glyph = _LOOK[icon]
    badge = len(state.approvals) if state.link is Link.ONLINE else 0
    return IconSpec(icon=icon, color=color, glyph=glyph, badge=badge)


def _icon(state: TrayState) -> Icon:
    if state.link is not Link.ONLINE:
        return Icon.UNREACHABLE
    status = state.status
    if status is None:
        return Icon.WARMING  # connected, waiting for the first hub.status
    if status.failing and any(not f.startswith("cloud:") for f in status.failing):
        return Icon.ERROR
    if status.policy == "local-only":
        return Icon.CLOUD_PAUSED  # the cloud is not used, so its health does not matter now
    if status.cloud == "error":
        return Icon.CLOUD_FAILING
    if status.state == "warming":
        return Icon.WARMING
    if status.state == "error":
        return Icon.ERROR
    return Icon.READY


def headline(state: TrayState) -> str:
    icon = _icon(state)
    if state.link is Link.STOPPED:
        return f"Qira: this tray was turned away by the hub ({state.closed_reason})"
    if state.link is Link.CONNECTING:
        return "Qira: connecting to the hub…"
    if icon is Icon.UNREACHABLE:
        return "Qira: hub unreachable"
    return {
        Icon.READY: "Qira is ready",
        Icon.WARMING: "Qira is warming up",
        Icon.CLOUD_PAUSED: "Qira is ready, cloud paused (local only)",
        Icon.CLOUD_FAILING: "Qira is ready, but the cloud is failing (answering locally)",
        Icon.ERROR: "Qira has a problem",
    }[icon]


def tooltip_for(state: TrayState) -> str:
    """The icon's state in words, one fact per line."""
    lines = [headline(state)]
    status = state.status
    if state.link is Link.ONLINE and status is not None:
        policy = {
            "local-only": "paused (local only)",
            "prefer-local": "on (prefer local)",
            "prefer-cloud": "on (prefer cloud)",
        }.get(status.policy, status.policy)
        if status.cloud == "off" and status.policy != "local-only":
            policy = "not configured"
        elif status.cloud == "error" and status.policy != "local-only":
            policy += ", failing"
        lines.append(f"Cloud: {policy}")
        lines.extend(f"Problem: {f}" for f in status.failing if not f.startswith("cloud:"))
        if status.warming:
            lines.append("Warming up: " + ", ".join(status.warming))
    elif state.link is Link.UNREACHABLE:
        lines.append(f"No answer from {state.companion_url}: reconnecting")
    if state.link is Link.ONLINE:
        n = len(state.approvals)
        if n:
            lines.append(
                f"{n} approval{'s' if n != 1 else ''} waiting: "
                + state.approvals[0].summary
                + (f" (+{n - 1} more)" if n > 1 else "")
            )
        others = _others(state)
        if others:
            lines.append(f"{sum(d.online for d in others)} of {len(others)} other devices online")
    return "\n".join(lines)


def describe_device(device: DeviceRow) -> str:
    parts = [device.name, f"({device.kind})", "online" if device.online else "offline"]
    if device.battery is not None:
        parts.append(f"battery {round(device.battery * 100)}%")
    return " · ".join([" ".join(parts[:2]), *parts[2:]])


def expires_in(approval: Approval, *, now: float | None = None) -> str:
    """When an unanswered approval counts as denied, as a clock time: a menu stays open for a
    while, so a countdown drawn once would be wrong by the time it is read."""
    if approval.expires_at is None:
        return ""
    if approval.expires_at <= (time.time() if now is None else now):
        return "expiring"
    return "until " + time.strftime("%H:%M", time.localtime(approval.expires_at))
