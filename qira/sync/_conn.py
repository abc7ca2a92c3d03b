"""One device's WebSocket connection on the hub: the protocol core plus a write queue.

Frames are queued and written by one task per connection, so a fan-out never
waits on a slow device; a device whose queue keeps growing is closed (4009).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

from starlette.websockets import WebSocket

from .protocol import Close, Frame, ServerProtocol
from ._wire import CloseCode

__all__ = ["Connection"]

log = logging.getLogger("qira.sync.conn")

_MAX_QUEUED = 10_000


class Connection:
    def __init__(self, ws: WebSocket, protocol: ServerProtocol, peer: str) -> None:
        self.ws = ws
        self.protocol = protocol
        self.peer = peer
        self.device_id: str | None = None
        self.docs: set[str] = set()
        self.live = False  # resume backlog sent: new events go straight out
        self.closed = asyncio.Event()
        self._queue: asyncio.Queue[Frame] = asyncio.Queue()
        self._writer = asyncio.ensure_future(self._write_loop())
        self._close_sent = False

    def flush(self) -> None:
        """Move what the protocol core wants written onto the write queue."""
        for frame in self.protocol.data_to_send():
            self.enqueue(frame)

    def enqueue(self, frame: Frame) -> None:
        if self._close_sent:
            return
        if isinstance(frame, Close):
            self._close_sent = True
        elif self._queue.qsize() > _MAX_QUEUED:
            self.protocol.close(CloseCode.TOO_SLOW, "too_slow")
            self.flush()
            return
        self._queue.put_nowait(frame)

    def enqueue_many(self, frames: Iterable[Frame]) -> None:
        for frame in frames:
            self.enqueue(frame)

    def close(self, code: int, reason: str) -> None:
        self.protocol.close(code, reason)
        self.flush()

    async def _write_loop(self) -> None:
        try:
            while True:
                frame = await self._queue.get()
                if isinstance(frame, Close):
                    with contextlib.suppress(Exception):  # the peer may be gone already
                        await self.ws.close(frame.code, frame.reason)
                    return
                if isinstance(frame, str):
                    await self.ws.send_text(frame)
                else:
                    await self.ws.send_bytes(frame)
        except Exception as exc:  # a dead socket: the read loop notices and cleans up
            log.debug("write to %s failed: %s", self.peer, exc)
        finally:
            self.closed.set()

    async def drain(self, timeout: float) -> None:
        """Wait until the close frame (or everything queued) has been written."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.closed.wait(), timeout)

    def abort(self) -> None:
        self._writer.cancel()
