"""Which device the person is most likely using right now."""

from __future__ import annotations

from collections.abc import Sequence

from ..devices import DeviceInfo, DeviceKind

__all__ = ["active_devices", "pick_device"]


def _recency(d: DeviceInfo) -> tuple[float, float]:
    return (d.last_active or 0.0, d.last_seen or 0.0)


def pick_device(devices: Sequence[DeviceInfo]) -> DeviceInfo | None:
    """A worn wearable first (it is on the person's wrist); else the online device used
    most recently; else the most recently used one at all (a durable push reaches it
    when it comes back)."""
    online = [d for d in devices if d.online]
    worn = [d for d in online if d.kind == DeviceKind.WEARABLE and d.capabilities.get("worn")]
    if worn:
        return max(worn, key=_recency)
    # an unworn wearable is on a table: it is not where the person will see anything
    usable = [d for d in online if d.kind != DeviceKind.WEARABLE] or online
    if usable:
        return max(usable, key=_recency)
    return max(devices, key=_recency) if devices else None


def active_devices(devices: Sequence[DeviceInfo]) -> list[DeviceInfo]:
    """Where an approval request goes: every online device (the person may pick up any)."""
    return [d for d in devices if d.online]
