"""Where a turn's answer goes: the devices of the thread, or a queue (the HTTP API)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..devices import DeviceGateway
from ..errors import UnknownDevice

__all__ = ["DeviceSink", "QueueSink", "SpokenSink", "TurnEvent"]

log = logging.getLogger("qira.agent")


@dataclass(frozen=True, kw_only=True)
class TurnEvent:
    kind: str  # delta | done | pending (paused for an approval; the text says so)
    text: str
    route: str = "local"
    degraded: bool = False  # the cloud failed mid-answer; the local model finished it
    fallback: bool = False  # the cloud failed before its first token; the local model answered
    reason: str = ""  # why, in words (empty when nothing failed)
    # on "done"/"pending", for the OpenAI-compatible API (issue 11):
    usage: tuple[int, int] | None = None  # (prompt, completion) tokens the model reported
    finish: str = "stop"  # stop | length
    approval: Mapping[str, Any] | None = None  # the pending approval, on "pending"


class DeviceSink:
    """Deltas (ephemeral) to the asking device and the thread's other online devices;
    the final answer (durable) to every device of the thread, online or not."""

    def __init__(
        self,
        gateway: DeviceGateway | None,
        *,
        thread: str,
        turn: str,
        participants: Sequence[str],
        asking: str | None,
        question: str = "",
    ) -> None:
        self.gateway = gateway
        self.asking = asking
        self.question = question  # what was asked: devices show it with an answer to a turn asked elsewhere
        self.thread = thread
        self.turn = turn
        self.targets = list(dict.fromkeys([*([asking] if asking else []), *participants]))
        self.index = 0

    async def delta(self, text: str) -> None:
        if self.gateway is None or not text:
            return
        payload = {"thread": self.thread, "turn": self.turn, "text": text, "index": self.index}
        self.index += 1
        for device_id in self.targets:  # send() skips offline devices itself (deltas are ephemeral)
            try:
                await self.gateway.send(device_id, "chat.delta", payload)
            except Exception:  # a device that just dropped misses a delta; chat.done carries the whole text
                log.debug("chat.delta to %s failed", device_id, exc_info=True)

    async def done(self, text: str, *, route: str, degraded: bool, fallback: bool = False, reason: str = "") -> None:
        if self.gateway is None:
            return
        payload = {
            "thread": self.thread,
            "turn": self.turn,
            "text": text,
            "route": route,
            "degraded": degraded,
            "fallback": fallback,
            "reason": reason,
            "asked_by": self.asking,
            "question": self.question,
        }
        # A thread keeps the devices that spoke in it; one revoked since then is skipped quietly.
        paired = {d.id for d in self.gateway.devices()}
        for device_id in self.targets:
            if device_id not in paired:
                continue
            try:
                await self.gateway.push(device_id, "chat.done", payload)
            except UnknownDevice:  # revoked between the check and the push
                log.debug("chat.done: device %s is no longer paired", device_id)
            except Exception:
                log.warning("chat.done to %s failed", device_id, exc_info=True)


class SpokenSink(DeviceSink):
    """A device's turn whose answer the hub also speaks (voice chat): everything a typed
    turn does, and :attr:`answer` resolves with the answer — or, when the turn waits for
    an approval, with the line that says so."""

    def __init__(self, gateway: DeviceGateway | None, **kwargs: Any) -> None:
        super().__init__(gateway, **kwargs)
        self.answer: asyncio.Future[TurnEvent] = asyncio.get_running_loop().create_future()

    async def done(self, text: str, *, route: str, degraded: bool, fallback: bool = False, reason: str = "") -> None:
        await super().done(text, route=route, degraded=degraded, fallback=fallback, reason=reason)
        if not self.answer.done():
            self.answer.set_result(
                TurnEvent(kind="done", text=text, route=route, degraded=degraded, fallback=fallback, reason=reason)
            )

    async def paused(self, text: str, approval: Mapping[str, Any]) -> None:
        if not self.answer.done():  # the approved answer comes later, as chat.done
            self.answer.set_result(TurnEvent(kind="pending", text=text, approval=dict(approval)))


class QueueSink:
    def __init__(self) -> None:
        self._queue: asyncio.Queue[TurnEvent] = asyncio.Queue()

    async def delta(self, text: str) -> None:
        if text:
            await self._queue.put(TurnEvent(kind="delta", text=text))

    async def done(self, text: str, *, route: str, degraded: bool, fallback: bool = False, reason: str = "") -> None:
        await self._queue.put(
            TurnEvent(kind="done", text=text, route=route, degraded=degraded, fallback=fallback, reason=reason)
        )

    async def paused(self, text: str, approval: Mapping[str, Any]) -> None:
        """The turn waits for the person's approval on a device: the caller hears it at once."""
        await self._queue.put(TurnEvent(kind="pending", text=text, approval=dict(approval)))

    async def events(self) -> AsyncIterator[TurnEvent]:
        while True:
            event = await self._queue.get()
            yield event
            if event.kind in ("done", "pending"):
                return
