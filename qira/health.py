"""Component health: each part of the hub reports ``ready``, ``warming``, ``error`` or ``off``.

Heavy parts (the embedding model, the local LLM) warm up in background threads so
the hub accepts connections at once; ``GET /health`` shows where each one is.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ComponentState", "ComponentStatus", "Health"]

log = logging.getLogger("qira.health")


class ComponentState(enum.StrEnum):
    READY = "ready"
    WARMING = "warming"
    ERROR = "error"
    OFF = "off"  # not configured (no cloud endpoint, say): not a fault
    UNKNOWN = "unknown"  # not checked yet, or could not be reached to check (the cloud before its probe)


@dataclass(frozen=True, kw_only=True)
class ComponentStatus:
    state: ComponentState
    reason: str | None = None
    since: float = 0.0

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {"state": self.state.value}
        if self.reason:
            out["reason"] = self.reason
        return out


class Health:
    def __init__(self) -> None:
        self._components: dict[str, ComponentStatus] = {}
        self._listeners: list[Callable[[], None]] = []

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (on the caller's thread) whenever a component changes state."""
        self._listeners.append(listener)

    def set(self, name: str, state: ComponentState, reason: str | None = None) -> None:
        previous = self._components.get(name)
        self._components[name] = ComponentStatus(state=state, reason=reason, since=time.time())
        if previous is None or previous.state != state:
            log.info("component %s %s%s", name, state.value, f": {reason}" if reason else "")
            for listener in self._listeners:
                listener()

    def get(self, name: str) -> ComponentStatus | None:
        return self._components.get(name)

    def snapshot(self) -> dict[str, ComponentStatus]:
        return dict(self._components)

    @property
    def all_ready(self) -> bool:
        # an optional part not yet known to work (the cloud) does not hold the hub back
        return all(
            s.state in (ComponentState.READY, ComponentState.OFF, ComponentState.UNKNOWN)
            for s in self._components.values()
        )

    def as_json(self) -> dict[str, object]:
        return {name: status.as_json() for name, status in sorted(self._components.items())}

    @property
    def summary(self) -> ComponentState:
        """One word for the whole hub: ``error`` if any part failed, else ``warming``, else ``ready``."""
        states = {s.state for s in self._components.values()}
        for worst in (ComponentState.ERROR, ComponentState.WARMING):
            if worst in states:
                return worst
        return ComponentState.READY

    async def warm(self, name: str, load: Callable[[], object]) -> bool:
        """Run a blocking ``load`` in a thread, reporting ``warming`` then ``ready`` or ``error``."""
        self.set(name, ComponentState.WARMING)
        started = time.perf_counter()
        try:
            await asyncio.to_thread(load)
        except Exception as exc:  # a broken model must not take the hub down: report it
            self.set(name, ComponentState.ERROR, f"{type(exc).__name__}: {exc}")
            return False
        self.set(name, ComponentState.READY, f"loaded in {time.perf_counter() - started:.1f}s")
        return True
