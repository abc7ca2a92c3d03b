"""The device side of the Qira protocol: one session per device, reconnecting forever.

``DeviceSession`` pairs (once) or authenticates with its token, resumes hub
events where it stopped, replays its durable outbox until every operation is
acknowledged, keeps a CRDT replica of the shared documents in its own SQLite
file, and reconnects with exponential backoff and jitter. It speaks through
:mod:`qira.sync.protocol`, the same sans-I/O core the hub uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import websockets
from pycrdt import Doc

from qira.errors import AuthError, ConnectionClosed, ProtocolError
from qira.sync import DOC_NAMES, CloseCode, ymsg
from qira.sync.protocol import AudioChunk, ClientProtocol, Close, DocMessage, HubEvent, Malformed, Reply

from ._state import DeviceState

__all__ = ["DeviceSession", "OpReply", "SessionEvent"]

log = logging.getLogger("qira.device")

# Close codes after which retrying with the same credentials is pointless.
_FATAL = {CloseCode.AUTH_FAILED, CloseCode.REVOKED, CloseCode.REPLACED}
# Close codes after which reconnecting at once would repeat the problem.
_PAUSE = {CloseCode.RATE_LIMITED, CloseCode.TOO_SLOW}
_PAUSE_S = 5.0  # the hub refuses such a device for 5 s (a hello then gets rate_limited and 4005)
# Error codes that mean "the hub did not take this operation": send it again.
_RETRY = {"rate_limited", "seq_out_of_order"}

_EMPTY_UPDATE = b"\x00\x00"  # a Yjs update that changes nothing

SessionEvent = dict[str, Any]  # {"type": ..., ...}: hub events plus session.* and reply events


@dataclass(frozen=True, kw_only=True)
class OpReply:
    seq: int
    ok: bool
    result: Mapping[str, Any]
    code: str = ""
    message: str = ""

    def unwrap(self) -> Mapping[str, Any]:
        if not self.ok:
            raise ProtocolError(self.message or self.code, code=self.code)
        return self.result


class DeviceSession:
    def __init__(
        self,
        hub_url: str,
        *,
        name: str,
        kind: str,
        state_dir: Path | str,
        capabilities: Mapping[str, Any] | None = None,
        pair_code: str | None = None,
        docs: Iterable[str] = DOC_NAMES,
        on_event: Callable[[SessionEvent], None] | None = None,
        backoff_base_s: float = 0.2,
        backoff_max_s: float = 5.0,
        client: str = "qira-device/1",
    ) -> None:
        self.hub_url = hub_url
        self.name = name
        self.kind = kind
        self.capabilities = dict(capabilities or {})
        self.client = client
        self._pair_code = pair_code
        self._on_event = on_event
        self._backoff = (backoff_base_s, backoff_max_s)
        self.state = DeviceState(Path(state_dir))
        self.events: asyncio.Queue[SessionEvent] = asyncio.Queue(maxsize=10_000)
        self.docs: dict[str, Doc] = {}
        self._remote = False
        self._subs = []
        replica = self.state.load_replica()
        for doc_name in sorted(docs):
            doc: Doc = Doc()
            if doc_name in replica:
                doc.apply_update(replica[doc_name])
            self.docs[doc_name] = doc
            self._subs.append(doc.observe(lambda event, n=doc_name: self._local_change(n, event.update)))
        self._next_seq = self.state.next_seq()
        self._unacked: dict[int, tuple[str, dict[str, Any]]] = {s: (t, p) for s, t, p in self.state.outbox()}
        self._futures: dict[int, asyncio.Future[OpReply]] = {}
        self._unsaved: list[tuple[int, str, dict[str, Any]]] = []  # submitted this loop iteration
        self._done: list[int] = []
        self._hub_seq = int(self.state.get("hub_seq", "0") or 0)
        self._acked_hub_seq = self._hub_seq
        self._protocol: ClientProtocol | None = None
        self._ws: Any = None
        self._wake = asyncio.Event()
        self._ready = asyncio.Event()
        self._synced: set[str] = set()
        self._synced_event = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.finished = asyncio.Event()  # set when the session stops for good (revoked, replaced, auth failed)
        self.closed_code: int | None = None
        self.device_id = self.state.get("device_id")
        self.heartbeat_s = 20.0
        self._limits = (100.0, 400)
        self._max_frame = 1_048_576

    # -- public API ----------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._ready.is_set()

    @property
    def hub_seq(self) -> int:
        return self._hub_seq

    @property
    def next_seq(self) -> int:
        """The ``seq`` the next :meth:`submit` will use (to tell its reply event apart)."""
        return self._next_seq

    @property
    def pending(self) -> int:
        """Operations in the outbox, not yet acknowledged by the hub."""
        return len(self._unacked)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    async def wait_ready(self, timeout: float = 10.0) -> None:
        await self._wait(self._ready, timeout)

    async def wait_synced(self, timeout: float = 10.0) -> None:
        """Until the first state exchange of every document has finished on this connection."""
        await self._wait(self._synced_event, timeout)

    async def wait_idle(self, timeout: float = 10.0) -> None:
        """Until every operation in the outbox is acknowledged."""
        deadline = time.monotonic() + timeout
        while self._unacked:
            self._check_closed()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self._unacked)} operations still unacknowledged")
            await asyncio.sleep(0.01)

    async def _wait(self, event: asyncio.Event, timeout: float) -> None:
        waiter = asyncio.ensure_future(event.wait())
        try:
            deadline = time.monotonic() + timeout
            while not event.is_set():
                self._check_closed()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"session {self.name} not ready after {timeout}s")
                await asyncio.wait([waiter], timeout=0.05)
        finally:
            waiter.cancel()

    def _check_closed(self) -> None:
        if self.closed_code == CloseCode.REPLACED:
            raise ConnectionClosed("another connection of this device replaced this one", close_code=self.closed_code)
        if self.closed_code in _FATAL:
            raise AuthError(f"the hub closed the session for good (close code {self.closed_code})")

    def submit(self, type: str, payload: Mapping[str, Any] | None = None) -> asyncio.Future[OpReply]:
        """Put an operation in the outbox and send it; the future resolves with the hub's reply.

        Operations submitted in one loop iteration are written to the device's SQLite
        in one transaction, and always before they are sent: the hub can only
        acknowledge an operation that is already durable here."""
        body = dict(payload or {})
        seq = self._next_seq
        ClientProtocol.check_operation(type, body)
        if len(json.dumps(body)) + 200 > self._max_frame:  # the hub would close with 1009, again on every replay
            raise ValueError(f"operation too large for the hub's {self._max_frame}-byte frame limit")
        self._next_seq += 1
        if not self._unsaved:
            asyncio.get_running_loop().call_soon(self._save_outbox)
        self._unsaved.append((seq, type, body))
        self._unacked[seq] = (type, body)
        future: asyncio.Future[OpReply] = asyncio.get_running_loop().create_future()
        self._futures[seq] = future
        return future

    def _save_outbox(self) -> None:
        if not self._unsaved:
            return
        rows, self._unsaved = self._unsaved, []
        self.state.enqueue_many(rows)
        if self._ready.is_set() and self._protocol is not None:
            for seq, type_, body in rows:
                if seq in self._unacked:
                    self._protocol.operation(seq, type_, body)
            self._wake.set()

    async def request(
        self, type: str, payload: Mapping[str, Any] | None = None, timeout: float = 30.0
    ) -> Mapping[str, Any]:
        """Submit an operation and wait for its result; an error reply raises ProtocolError."""
        reply = await asyncio.wait_for(asyncio.shield(self.submit(type, payload)), timeout)
        return reply.unwrap()

    def presence(self, *, active: bool, capabilities: Mapping[str, Any] | None = None) -> None:
        if capabilities:
            self.capabilities.update(capabilities)
        if self._ready.is_set() and self._protocol is not None:
            self._protocol.presence(active=active, capabilities=dict(capabilities or {}))
            self._wake.set()

    def send_audio(self, stream: str, seq: int, data: bytes) -> bool:
        if not self._ready.is_set() or self._protocol is None:
            return False
        self._protocol.send_audio(stream, seq, data)
        self._wake.set()
        return True

    def send_awareness(self, doc: str, update: bytes) -> None:
        if self._ready.is_set() and self._protocol is not None:
            self._protocol.send_doc(doc, ymsg.awareness(update))
            self._wake.set()

    def drop(self) -> None:
        """Cut the current connection abruptly, as a network change would; the session reconnects."""
        ws = self._ws
        if ws is not None and ws.transport is not None:
            ws.transport.abort()

    async def close(self) -> None:
        self._closing = True
        self._save_outbox()
        if self._ws is not None:
            with contextlib.suppress(Exception):
                self._flush_acks()
                await self._send_pending()
                await self._ws.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self.state.close()

    # -- connection loop -------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        while not self._closing:
            failure: tuple[str, str] | None = None
            try:
                await self._connect_once()
            except (TimeoutError, OSError, websockets.exceptions.WebSocketException) as exc:
                log.debug("%s: connection failed: %s", self.name, exc)
                failure = _describe(exc)
            except AuthError as exc:
                self.closed_code = CloseCode.AUTH_FAILED
                self._emit({"type": "session.closed", "code": self.closed_code, "reason": str(exc)})
            except Exception:  # a bug here must not end the session for good: log it, back off, reconnect
                log.exception("%s: session error", self.name)
            finally:
                if self._ready.is_set():
                    attempt = 0
                self._ready.clear()
                self._synced_event.clear()
                self._protocol = None
                self._ws = None
            if self.closed_code in _FATAL or self._closing:
                self.finished.set()
                return
            base, cap = self._backoff
            delay = min(cap, base * 2**attempt) * random.uniform(0.5, 1.0)
            if self.closed_code in _PAUSE:  # the hub asked for a pause: flooding, or not reading
                delay = max(delay, _PAUSE_S)
            # why, for a person: the close code, or what stopped the connection (error/reason)
            event: SessionEvent = {
                "type": "session.disconnected",
                "code": self.closed_code,
                "retry_in": round(delay, 2),
            }
            if failure is not None:
                event["error"], event["reason"] = failure
            self._emit(event)
            attempt += 1
            await asyncio.sleep(delay)

    async def _connect_once(self) -> None:
        self.closed_code = None
        async with websockets.connect(
            self.hub_url,
            max_size=None,
            open_timeout=10,
            close_timeout=2,
            compression=None,
            ping_interval=20,
            ping_timeout=60,
        ) as ws:
            self._ws = ws
            proto = self._protocol = ClientProtocol()
            token = self.state.get("token")
            if token:
                # No capabilities to report: leave the field out so the hub keeps what it knew.
                proto.hello(
                    token=token,
                    capabilities=self.capabilities or None,
                    resume_hub_seq=self._hub_seq,
                    client=self.client,
                )
            elif self._pair_code:
                proto.hello(pair_code=self._pair_code, capabilities=self.capabilities or None, client=self.client)
            else:
                raise AuthError(f"device {self.name} has no token and no pairing code: run `qira pair` first")
            await self._send_pending()
            sender = asyncio.ensure_future(self._sender())
            try:
                async for frame in ws:
                    if isinstance(frame, str):
                        proto.receive_text(frame)
                    else:
                        proto.receive_bytes(frame)
                    for event in proto.events_received():
                        self._handle(event)
                    self._wake.set()
            except websockets.exceptions.ConnectionClosed:
                pass
            finally:
                sender.cancel()
                rcvd = ws.protocol.close_rcvd
                self.closed_code = rcvd.code if rcvd is not None else 1006
                if self.closed_code in _FATAL:
                    reason = rcvd.reason if rcvd is not None else ""
                    self._emit({"type": "session.closed", "code": self.closed_code, "reason": reason})

    async def _sender(self) -> None:
        with contextlib.suppress(websockets.exceptions.ConnectionClosed):  # the read loop sees it too
            await self._send_loop()

    async def _send_loop(self) -> None:
        last_ping = time.monotonic()
        last_ack = 0.0
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.05)
            self._wake.clear()
            now = time.monotonic()
            if self._protocol is not None and self._ready.is_set():
                if now - last_ack >= 0.05:
                    self._flush_acks()
                    last_ack = now
                if now - last_ping >= self.heartbeat_s:
                    self._protocol.ping()
                    last_ping = now
            await self._send_pending()

    async def _send_pending(self) -> None:
        proto, ws = self._protocol, self._ws
        if proto is None or ws is None:
            return
        frames = proto.data_to_send()
        rate, burst = self._limits
        for i, frame in enumerate(frames):
            if isinstance(frame, Close):
                await ws.close(frame.code, frame.reason)
                return
            if i and i % max(1, burst // 2) == 0:
                await asyncio.sleep((burst // 2) / rate)  # stay under the hub's rate limit
            await ws.send(frame)

    # -- incoming --------------------------------------------------------------

    def _handle(self, event: object) -> None:
        if isinstance(event, Reply):
            self._reply(event)
        elif isinstance(event, HubEvent):
            self._hub_event(event)
        elif isinstance(event, DocMessage):
            self._doc_message(event)
        elif isinstance(event, AudioChunk):
            f = event.frame
            self._emit({"type": "audio", "stream": f.stream, "chunk": f.seq, "bytes": len(f.data), "data": f.data})
        elif isinstance(event, Malformed):
            log.warning("%s: malformed frame from the hub: %s", self.name, event.reason)

    def _reply(self, reply: Reply) -> None:
        if reply.seq is None and reply.id == 1 and not self._ready.is_set():
            return self._welcome(reply)
        if reply.seq is None:
            if not reply.ok:
                self._emit(
                    {"type": "error", "id": reply.id, "code": reply.code, "message": reply.message, **reply.extra}
                )
            return None
        seq = reply.seq
        if seq not in self._unacked:
            return None
        if not reply.ok and reply.code in _RETRY:
            delay = float(reply.extra.get("retry_after", 0.2) or 0.2)
            asyncio.get_running_loop().call_later(delay, self._resend, seq)
            return None
        del self._unacked[seq]
        self._done.append(seq)
        if reply.ok:
            op = OpReply(seq=seq, ok=True, result=reply.result)
            self._emit({"type": "reply", "seq": seq, "ok": True, "result": reply.result})
        else:
            op = OpReply(seq=seq, ok=False, result={}, code=reply.code, message=reply.message)
            self._emit({"type": "reply", "seq": seq, "ok": False, "code": reply.code, "message": reply.message})
        future = self._futures.pop(seq, None)
        if future is not None and not future.done():
            future.set_result(op)
        return None

    def _welcome(self, reply: Reply) -> None:
        if not reply.ok:
            self._emit({"type": "session.error", "code": reply.code, "message": reply.message})
            return
        result = reply.result
        self.device_id = str(result.get("device_id"))
        updates: dict[str, str | int] = {"device_id": self.device_id, "name": str(result.get("name", self.name))}
        if "token" in result:
            updates["token"] = str(result["token"])
        self.state.set_many(updates)
        self.heartbeat_s = float(result.get("heartbeat_s", 20.0))
        limits = result.get("limits", {})
        self._limits = (float(limits.get("messages_per_second", 100.0)), int(limits.get("burst", 400)))
        self._max_frame = int(limits.get("max_frame_bytes", self._max_frame))
        acked = int(result.get("acked_seq", 0))
        for seq in [s for s in self._unacked if s <= acked]:  # acked on a connection that died before the reply
            del self._unacked[seq]
            self._done.append(seq)
        proto = self._protocol
        assert proto is not None
        self._replay(proto, 0)
        self._synced.clear()
        for name, doc in self.docs.items():
            proto.send_doc(name, ymsg.step1(doc.get_state()))
        self._ready.set()
        self._emit(
            {
                "type": "session.ready",
                "device_id": self.device_id,
                "name": result.get("name"),
                "kind": result.get("kind"),
                "hub_seq": result.get("hub_seq"),
                "pending": len(self._unacked),
            }
        )

    def _resend(self, seq: int) -> None:
        if self._protocol is None or not self._ready.is_set():
            return  # the next connection replays the whole outbox anyway
        self._replay(self._protocol, seq)
        self._wake.set()

    def _replay(self, proto: ClientProtocol, from_seq: int) -> None:
        unsaved = {seq for seq, _t, _p in self._unsaved}  # sent by _save_outbox once stored
        for seq in sorted(s for s in self._unacked if s >= from_seq and s not in unsaved):
            type_, payload = self._unacked[seq]
            proto.operation(seq, type_, payload)

    def _hub_event(self, event: HubEvent) -> None:
        if event.hub_seq is not None:
            if event.hub_seq <= self._hub_seq:
                return  # seen before (replayed on resume)
            self._hub_seq = event.hub_seq
            self.state.set("hub_seq", event.hub_seq)
        out: SessionEvent = {"type": event.type}
        if event.hub_seq is not None:
            out["hub_seq"] = event.hub_seq
        out.update(event.payload)
        self._emit(out)

    def _flush_acks(self) -> None:
        proto = self._protocol
        if proto is None:
            return
        op_seq = (min(self._unacked) if self._unacked else self._next_seq) - 1
        if self._done:
            self.state.remove(self._done, self._next_seq)
            self._done = []
            proto.ack(hub_seq=self._hub_seq, op_seq=op_seq)
            self._acked_hub_seq = self._hub_seq
        elif self._hub_seq != self._acked_hub_seq:
            proto.ack(hub_seq=self._hub_seq)
            self._acked_hub_seq = self._hub_seq

    # -- shared documents ----------------------------------------------------

    def _doc_message(self, event: DocMessage) -> None:
        doc = self.docs.get(event.doc)
        if doc is None or self._protocol is None:
            return
        message = event.message
        if message.kind is ymsg.YKind.AWARENESS:
            self._emit({"type": "awareness", "doc": event.doc, "update": message.payload.hex()})
            return
        if message.step is ymsg.SyncStep.STEP1:
            self._protocol.send_doc(event.doc, ymsg.step2(doc.get_update(message.payload)))
            return
        if message.payload != _EMPTY_UPDATE:
            self._remote = True
            try:
                doc.apply_update(message.payload)
            except ValueError as exc:
                log.warning("%s: hub sent an unreadable update for %s: %s", self.name, event.doc, exc)
            finally:
                self._remote = False
            self.state.add_update(event.doc, message.payload)
        if message.step is ymsg.SyncStep.STEP2 and event.doc not in self._synced:
            self._synced.add(event.doc)
            if self._synced >= set(self.docs):
                self._synced_event.set()
                self._emit({"type": "session.synced"})
        self._emit({"type": "doc.changed", "doc": event.doc})

    def _local_change(self, name: str, update: bytes) -> None:
        if self._remote or update == _EMPTY_UPDATE:
            return
        self.state.add_update(name, update)
        if self._ready.is_set() and self._protocol is not None:
            self._protocol.send_doc(name, ymsg.update(update))
            self._wake.set()

    def _emit(self, event: SessionEvent) -> None:
        if self.events.full():  # nobody is reading them (terminal mode uses on_event): keep the newest
            self.events.get_nowait()
        self.events.put_nowait(event)
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception:
                log.exception("event callback failed")


def _describe(exc: BaseException) -> tuple[str, str]:
    """(a stable kind, a readable line) for a failed connection attempt."""
    import socket

    ws_exc = websockets.exceptions
    if isinstance(exc, ws_exc.InvalidURI):
        return "bad_url", f"not a WebSocket URL: {exc}"
    if isinstance(exc, ws_exc.InvalidStatus):
        status = exc.response.status_code
        return "http_status", f"the server answered HTTP {status} instead of a WebSocket (is the path /ws?)"
    if isinstance(exc, ws_exc.InvalidHandshake):
        return "bad_handshake", f"not a Qira hub at that address ({type(exc).__name__}: {exc})"
    if isinstance(exc, ConnectionRefusedError):
        return "refused", "connection refused (is `qira serve` running, on this port?)"
    if isinstance(exc, socket.gaierror):
        return "unknown_host", f"unknown host ({exc.strerror or exc})"
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return "timeout", "the hub did not answer in time"
    return "network", f"{type(exc).__name__}: {exc}"
