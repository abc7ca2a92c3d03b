"""The WebSocket transport the hub serves devices with: uvicorn's sans-I/O websockets protocol,
with one fix to how a connection is failed.

When a device breaks the WebSocket rules (a message over ``max_frame_bytes``, possibly
in fragments; a text frame that is not UTF-8), the WebSocket layer sends its close frame
(1009, 1007) and uvicorn closes the socket at once. If the device is still sending, the
bytes it sent and the hub never read make the kernel answer with a reset, and a reset
discards the close frame on the device's side: the device sees the connection cut,
not the documented close code. So here the hub keeps reading (and discarding) after
failing the connection (half-closed after the close frame), until the device closes
or ``_LINGER_S`` passes.
"""

from __future__ import annotations

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

__all__ = ["HubWebSocketProtocol"]

_LINGER_S = 5.0


class HubWebSocketProtocol(WebSocketsSansIOProtocol):
    _failing = False

    def handle_parser_exception(self) -> None:
        if self._failing:  # later data while discarding: websockets drops it, and there is nothing to send
            self.conn.data_to_send()
            return
        self._failing = True
        close = self.conn.close_sent
        code, reason = (close.code, close.reason) if close is not None else (1002, "")
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        if self.transport.can_write_eof():
            self.transport.write_eof()  # the close frame, then FIN: the device closes its side at once
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        if self.close_timer is None:
            self.close_timer = self.loop.call_later(_LINGER_S, self.transport.close)
