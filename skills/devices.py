"""Where the person's devices are, and how charged."""

from __future__ import annotations

import time
from typing import Annotated

from qira.sdk import DeviceInfo, Permission, SkillContext, skill


def _ago(ts: float | None) -> str:
    if not ts:
        return "never seen"
    minutes = int((time.time() - ts) // 60)
    return "just now" if minutes < 1 else f"{minutes} min ago" if minutes < 120 else f"{minutes // 60} h ago"


def _battery(d: DeviceInfo) -> str:
    level = d.capabilities.get("battery")
    if level is None:
        return "battery unknown"
    if isinstance(level, (int, float)):
        pct = level * 100 if level <= 1 else level
        return f"battery {pct:.0f}%"
    return f"battery {level}"


@skill(
    description="List the person's devices: which are online and when each was last seen",
    examples=[
        "where are my devices",
        "which devices are online",
        "list my devices",
        "what devices do I have",
        "is my tablet connected",
        "show my devices",
        "is my watch online",
        "which of my devices are offline",
        "when did my phone last connect",
        "are my devices connected",
        "what devices are connected to you",
        "is my pc on",
        "show me my paired devices",
        "which gadgets are online",
        "are any of my devices offline",
        "when was my phone last online",
        "what's connected right now",
        "which devices can you see",
        "is my laptop reachable",
        "device status",
        "how many of my devices are online",
    ],
    patterns=[
        "where are my devices",
        "which devices are online",
        "list my devices",
        "show my devices",
        "what devices do i have",
    ],
    permissions=[Permission.NOTIFY],
    read_only=True,
)
async def devices_where(ctx: SkillContext) -> str:
    devices = ctx.devices()
    if not devices:
        return "You have no paired devices."
    lines = [
        f"- {d.name} ({d.kind.value}): {'online' if d.online else 'offline'}, last seen {_ago(d.last_seen)}"
        + (", worn" if d.capabilities.get("worn") else "")
        for d in devices
    ]
    return "Your devices:\n" + "\n".join(lines)


@skill(
    description="Tell the battery level of the person's devices",
    examples=[
        "what's my battery",
        "how much battery does my phone have",
        "battery level of my watch",
        "is my tablet charged",
        "check the battery on my devices",
        "how much charge is left",
        "is my phone's battery low",
        "what's the charge on my watch",
        "battery percentage of my tablet",
        "does my phone need charging",
        "how much power does my watch have left",
        "battery check",
        "are my devices charged",
        "what's the battery status of my phone",
        "battery",
        "how is my phone's battery doing",
        "how charged is my tablet",
        "power level of my watch",
        "battery levels please",
        "how much battery is left on my tablet",
        "is my watch about to die",
        "what percent is my phone at",
        "which device has the lowest battery",
        "charge status",
    ],
    patterns=[
        "how much battery does my {device} have",
        "battery level of my {device}",
        "is my {device} charged",
        "what's the battery on my {device}",
        "battery of my {device}",
    ],
    permissions=[Permission.NOTIFY],
    read_only=True,
)
async def battery(ctx: SkillContext, device: Annotated[str, "which device; empty for all"] = "") -> str:
    devices = ctx.devices()
    if device:
        wanted = device.lower().removeprefix("my ").strip()
        devices = [d for d in devices if wanted in (d.name.lower(), d.kind.value)] or devices
    if not devices:
        return "You have no paired devices."
    return "\n".join(f"- {d.name}: {_battery(d)}{'' if d.online else ' (offline, last known)'}" for d in devices)


SKILLS = [devices_where, battery]
