"""One device's WebSocket connection on the hub: the protocol core plus its outgoing frames.

Frames are written inline, by the task that produced them, while the socket takes
them at once (no task switch on the fan-out path); whatever the socket does not
take at once — a slow device, a full buffer — is left to the connection's own
writer task, so one device never holds up another. A device whose backlog grows
past ``max_queued_bytes`` (frames queued here plus the transport's own write
buffer) is closed with 4009 and its backlog dropped: memory per device is bounded
however large the frames it asks for and however little it reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any

from starlette.websockets import WebSocket

from ._wire import CloseCode
from .protocol import Close, Frame, ServerProtocol

__all__ = ["CLOSE_GRACE_S", "Connection"]

log = logging.getLogger("qira.sync.conn")

_MAX_QUEUED = 10_000  # frames, whatever their size
CLOSE_GRACE_S = 10.0  # a device closed for being too slow has this long to take the close frame


def _find_transport(send: Any, depth: int = 0) -> Any:
    """The asyncio transport under an ASGI ``send``: the bytes already handed to the socket
    layer (and the peer's own pings answered there) can only be counted, and a device that
    takes nothing can only be cut, there. ASGI does not expose it: ``send`` is the server's
    protocol method, possibly wrapped in middleware closures, so look through those."""
    owner = getattr(send, "__self__", None)
    transport = getattr(owner, "transport", None)
    if hasattr(transport, "get_write_buffer_size") and hasattr(transport, "abort"):
        return transport
    if depth < 6:
        for cell in getattr(send, "__closure__", None) or ():
            with contextlib.suppress(ValueError):  # an empty cell
                found = _find_transport(cell.cell_contents, depth + 1) if callable(cell.cell_contents) else None
                if found is not None:
                    return found
    return None


def _size(frame: Frame) -> int:
    return 0 if isinstance(frame, Close) else len(frame)  # characters for text: close enough for a bound


class Connection:
    def __init__(
        self,
        ws: WebSocket,
        protocol: ServerProtocol,
        peer: str,
        dirty: set[Connection],
        *,
        max_queued_bytes: int = 8_388_608,
    ) -> None:
        self.ws = ws
        self.protocol = protocol
        self.peer = peer
        self.address = peer.rsplit(":", 1)[0]  # what pairing failures are counted against
        self.max_queued_bytes = max_queued_bytes
        self._queued_bytes = 0
        self._transport_ref: Any = None  # found on first use; False: not reachable
        self.device_id: str | None = None
        self.docs: set[str] = set()
        self.live = False  # resume backlog sent: new events go straight out
        self.closed = asyncio.Event()
        self._frames: deque[Frame] = deque()
        self._dirty = dirty  # connections with frames to write, shared by the server
        self._busy = False  # a send is in progress (inline or in the writer task)
        self._wakeup: asyncio.Future[None] | None = None
        self._kick_pending = False
        self._close_sent = False
        self._loop = asyncio.get_running_loop()
        self._writer = asyncio.ensure_future(self._write_loop())

    def flush(self) -> None:
        """Move what the protocol core wants written onto this connection's outgoing frames."""
        for frame in self.protocol.data_to_send():
            self.enqueue(frame)

    def enqueue(self, frame: Frame) -> None:
        if self._close_sent:
            return
        size = _size(frame)
        if isinstance(frame, Close):
            self._close_sent = True
        elif len(self._frames) >= _MAX_QUEUED or self._queued_bytes + size > self.max_queued_bytes:
            self.too_slow()
            return
        self._queued_bytes += size
        self._frames.append(frame)
        self._dirty.add(self)
        if not self._kick_pending:
            # Wake the writer only after the current step: if the frames are written inline
            # by then, nothing has to switch tasks.
            self._kick_pending = True
            self._loop.call_soon(self._kick)

    def too_slow(self) -> None:
        """The device is not reading: drop what it has not taken and close it with 4009."""
        log.info(
            "%s is not reading (%d bytes queued): closing it with 4009", self.device_id or self.peer, self._queued_bytes
        )
        self._frames.clear()
        self._queued_bytes = 0
        self.close(CloseCode.TOO_SLOW, "too_slow")
        # A peer that reads nothing never takes the close frame either: cut it after a grace period.
        self._loop.call_later(CLOSE_GRACE_S, self._abort_if_open)

    def _abort_if_open(self) -> None:
        if not self.closed.is_set():
            self.abort_transport()

    def abort_transport(self) -> None:
        if self.closed.is_set():
            return
        transport = self._transport()
        if transport is not None:
            transport.abort()

    def check_backlog(self) -> None:
        """Called periodically: bytes stuck in the transport's buffer count too (the WebSocket
        layer answers the peer's own pings there, outside this connection's queue)."""
        transport = self._transport()
        if (
            transport is not None
            and not self._close_sent
            and transport.get_write_buffer_size() + self._queued_bytes > self.max_queued_bytes
        ):
            self.too_slow()

    def _transport(self) -> asyncio.WriteTransport | None:
        if self._transport_ref is None:
            self._transport_ref = _find_transport(getattr(self.ws, "_send", None)) or False
        return self._transport_ref or None

    def close(self, code: int, reason: str) -> None:
        self.protocol.close(code, reason)
        self.flush()

    def _kick(self) -> None:
        self._kick_pending = False
        if self._frames and self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    async def _send(self, frame: str | bytes) -> None:
        if isinstance(frame, str):
            await self.ws.send_text(frame)
        else:
            await self.ws.send_bytes(frame)

    async def send_inline(self) -> None:
        """Write queued frames from the caller's task, as long as the socket takes them at once."""
        if self._busy:
            return
        self._busy = True
        try:
            while self._frames and not isinstance(self._frames[0], Close):
                frame = self._frames[0]
                try:
                    # A send that would wait (the transport is paused) is cancelled before
                    # it writes anything, and the frame stays queued for the writer task.
                    async with asyncio.timeout(0):
                        await self._send(frame)
                except TimeoutError:
                    break
                if self._frames and self._frames[0] is frame:  # too_slow() may have dropped the queue meanwhile
                    self._frames.popleft()
                    self._queued_bytes -= _size(frame)
        except Exception as exc:  # a dead socket: the writer task and the read loop clean up
            log.debug("inline write to %s failed: %s", self.peer, exc)
        finally:
            self._busy = False
            if self._frames:
                self._kick()

    async def _write_loop(self) -> None:
        try:
            while True:
                while self._busy or not self._frames:
                    self._wakeup = self._loop.create_future()
                    await self._wakeup
                frame = self._frames.popleft()
                self._queued_bytes -= _size(frame)
                if isinstance(frame, Close):
                    with contextlib.suppress(Exception):  # the peer may be gone already
                        await self.ws.close(frame.code, frame.reason)
                    return
                self._busy = True
                try:
                    await self._send(frame)
                finally:
                    self._busy = False
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
        self._dirty.discard(self)


class _BadUtf8IsNotAFault(logging.Filter):
    """A device's text frame that is not UTF-8 is closed with 1007 by the WebSocket layer,
    which logs it with a traceback as if the hub had failed: keep it to one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and str(record.msg).startswith("Invalid UTF-8 sequence"):
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.msg = "a device sent a text frame that is not UTF-8: closed with 1007"
        return True


_UVICORN_LOG = logging.getLogger("uvicorn.error")
if not any(isinstance(f, _BadUtf8IsNotAFault) for f in _UVICORN_LOG.filters):
    _UVICORN_LOG.addFilter(_BadUtf8IsNotAFault())
