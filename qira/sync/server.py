"""The hub side of sync: a :class:`qira.devices.DeviceGateway` over the WebSocket endpoint.

Hub code uses:

* ``register_handler(type, handler)`` — application messages (operations) from devices;
* ``devices()``, ``push()`` (durable, resumed), ``send()`` (ephemeral, online only);
* ``on_presence(callback)`` — called with a :class:`DeviceInfo` whenever a device
  connects, disconnects or reports presence;
* ``async with edit("reminders") as doc:`` — change a shared CRDT document;
  ``doc(name)`` reads one.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from pycrdt import Doc
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from ..config import SyncConfig
from ..devices import DeviceInfo, DeviceKind, MessageHandler
from ..errors import ConfigError, UnknownDevice
from . import _schema
from ._auth import AuthMixin
from ._conn import CLOSE_GRACE_S, Connection
from ._docs import HubDocs
from ._ops import OpState, error_body, run_handler, with_id
from ._pairing import PairingGuard, client_address, hash_secret, trusted_networks
from ._shared import SharedDocs
from ._store import DB_NAME, DeviceRow, SyncStore, Writer
from ._values import MAX_CAPABILITIES
from ._wire import CloseCode, ErrorCode, dumps, encode_audio
from .protocol import (
    Ack,
    AudioChunk,
    DocMessage,
    Hello,
    Limits,
    Operation,
    Phase,
    PresenceUpdate,
    ServerProtocol,
    event_frame,
)

__all__ = ["AudioHandler", "PresenceCallback", "SyncServer"]

log = logging.getLogger("qira.sync")

PresenceCallback = Callable[[DeviceInfo], Awaitable[None] | None]
AudioHandler = Callable[[DeviceInfo, str, int, bytes], Awaitable[None] | None]

_REVOCATION_POLL_S = 0.5
COOLDOWN_S = 5.0  # after 4005 or 4009, the device's hello is refused this long
_STOP_DRAIN_S = 1.0  # how long stopping waits for each device's close frame to go out


class SyncServer(AuthMixin):
    def __init__(self, config: SyncConfig, data_dir: Path) -> None:
        self.config = config
        self.path = Path(data_dir) / DB_NAME
        self.limits = Limits(
            max_frame_bytes=config.max_frame_bytes,
            messages_per_second=config.messages_per_second,
            burst=config.burst,
            auth_timeout_s=config.auth_timeout_s,
            idle_timeout_s=config.idle_timeout_s,
        )
        self.routes = [WebSocketRoute("/ws", self._endpoint)]
        self._handlers: dict[str, MessageHandler] = {}
        self._presence: list[PresenceCallback] = []
        self._audio: list[AudioHandler] = []
        self._devices: dict[str, DeviceInfo] = {}
        self._seen: dict[str, float] = {}  # device id -> unix time of its last frame
        self._by_token: dict[str, str] = {}  # token hash -> device id
        self._revoked_tokens: set[str] = set()
        self._conns: dict[str, Connection] = {}  # device id -> its live connection
        self._all_conns: set[Connection] = set()
        self._dirty: set[Connection] = set()  # connections with frames waiting to be written
        self._ops: dict[str, OpState] = {}
        self._pending: dict[str, list[tuple[int, str]]] = {}  # device id -> unacked (hub_seq, frame)
        self._hub_seq = 0
        self._cooldown: dict[str, float] = {}  # device id -> monotonic time its hello is accepted again
        self._guard = PairingGuard(
            config.pairing_max_failures, config.pairing_lockout_s, max_total_failures=config.pairing_max_failures_total
        )
        try:
            self._trusted = trusted_networks(config.trusted_proxies)
        except ValueError as exc:
            raise ConfigError(f"sync.trusted_proxies: {exc}") from exc
        self._tasks: set[asyncio.Task[Any]] = set()
        self._writer: Writer | None = None
        self._docs: HubDocs | None = None
        self._shared: SharedDocs | None = None
        self._reader: SyncStore | None = None
        self._device_changes = 0
        self._stopping = False
        self.register_handler("sync.noop", _noop)

    # -- public API for hub code -----------------------------------------------

    def register_handler(self, type: str, handler: MessageHandler) -> None:
        self._handlers[type] = handler

    def on_presence(self, callback: PresenceCallback) -> None:
        self._presence.append(callback)

    def on_audio(self, handler: AudioHandler) -> None:
        """Called for each binary audio chunk: (device, stream id, chunk seq, bytes)."""
        self._audio.append(handler)

    def devices(self) -> list[DeviceInfo]:
        return sorted((self._info(d) for d in self._devices.values()), key=lambda d: d.name)

    def device(self, device_id: str) -> DeviceInfo | None:
        info = self._devices.get(device_id)
        return None if info is None else self._info(info)

    def device_for_token(self, token: str) -> DeviceInfo | None:
        """The paired, unrevoked device this token belongs to (for HTTP APIs that accept device tokens)."""
        digest = hash_secret(token)
        device_id = self._by_token.get(digest)
        if device_id is None and digest not in self._revoked_tokens:
            device_id = self._issued_elsewhere(digest)  # `qira pair --token` a moment ago, as in hello
        return self.device(device_id) if device_id else None

    def _info(self, info: DeviceInfo) -> DeviceInfo:
        seen = self._seen.get(info.id)  # updated per frame without rebuilding the record
        return replace(info, last_seen=seen) if info.online and seen else info

    async def push(self, device_id: str, type: str, payload: Mapping[str, Any]) -> int:
        if device_id not in self._devices:
            raise UnknownDevice(f"no paired device {device_id!r}")
        self._hub_seq += 1
        hub_seq = self._hub_seq
        frame = event_frame(type, dict(payload), hub_seq)

        def job(c: Any) -> None:
            c.execute("INSERT INTO events VALUES (?, ?, ?)", (hub_seq, device_id, frame))
            c.execute("UPDATE meta SET value = max(value, ?) WHERE key = 'hub_seq'", (hub_seq,))

        assert self._writer is not None
        await self._writer.submit(job)
        if self._docs is not None:
            _schema.mirror_event(self._docs.docs, device_id, type, payload, hub_seq)
        self._pending.setdefault(device_id, []).append((hub_seq, frame))
        conn = self._conns.get(device_id)
        if conn is not None and conn.live:
            conn.enqueue(frame)
        return hub_seq

    async def send(self, device_id: str, type: str, payload: Mapping[str, Any]) -> bool:
        conn = self._conns.get(device_id)
        if conn is None or not conn.live:
            return False
        conn.enqueue(event_frame(type, dict(payload)))
        return True

    def send_audio(self, device_id: str, stream: str, seq: int, data: bytes) -> bool:
        """Send one audio chunk (ephemeral) to a device if it is online now."""
        conn = self._conns.get(device_id)
        if conn is None or not conn.live:
            return False
        conn.enqueue(encode_audio(stream, seq, data))
        return True

    async def record_reminder(self, **entry: Any) -> None:
        """A reminder was created, delivered or cancelled: its entry in the ``reminders`` document."""
        if self._docs is not None:
            _schema.record_reminder(self._docs.docs["reminders"], **entry)

    def doc(self, name: str) -> Doc:
        assert self._docs is not None
        return self._docs.docs[name]

    @asynccontextmanager
    async def edit(self, name: str) -> AsyncIterator[Doc]:
        assert self._docs is not None
        async with self._docs.edit(name) as doc:
            yield doc

    # -- lifecycle -----------------------------------------------------------

    async def start(self) -> None:
        await asyncio.to_thread(self._load)
        loop = asyncio.get_running_loop()
        assert self._writer is not None
        self._writer.start(loop)
        self._spawn(self._housekeeping())

    def _load(self) -> None:
        store = SyncStore(self.path)
        store.mark_all_offline()
        for row in store.devices(include_revoked=True):
            if row.revoked is not None:
                if row.token_hash:
                    self._revoked_tokens.add(row.token_hash)
                continue
            self._add_device(row)
        for device_id, seq, reply in store.op_results():
            state = self._ops.get(device_id)
            if state is not None:
                state.results[seq] = reply
                state.last_seq = max(state.last_seq, seq)
        for hub_seq, device_id, frame in store.pending_events():
            self._pending.setdefault(device_id, []).append((hub_seq, frame))
        self._hub_seq = store.hub_seq()
        self._device_changes = store.device_changes()
        self._writer = Writer(self.path)
        self._shared = SharedDocs(self._writer, self._conns, self._spawn)
        self._docs = self._shared.docs
        self._docs.load(store.doc_updates())
        self._docs.compact_all()
        self._reader = store

    def _add_device(self, row: DeviceRow) -> None:
        self._devices[row.id] = DeviceInfo(
            id=row.id,
            name=row.name,
            kind=DeviceKind(row.kind),
            online=False,
            last_seen=row.last_seen,
            last_active=row.last_active,
            capabilities=row.capabilities,
        )
        if row.token_hash:
            self._by_token[row.token_hash] = row.id
        self._ops[row.id] = OpState(last_seq=row.acked_seq, acked_seq=row.acked_seq)

    async def stop(self) -> None:
        """Close every device with 1001 (going away), then flush and close sync.db."""
        self._stopping = True
        online = list(self._conns)  # closing empties _conns; they are marked offline below, in one write
        if self._docs is not None:
            self._docs.flush()
        conns = list(self._all_conns)
        for conn in conns:
            conn.close(CloseCode.GOING_AWAY, "hub shutting down")
        await asyncio.gather(*(c.drain(_STOP_DRAIN_S) for c in conns))
        for conn in conns:  # a device that takes nothing would hold the stop up: cut it
            conn.abort_transport()
        for task in list(self._tasks):
            task.cancel()
        now = time.time()
        if self._docs is not None:
            self._docs.flush()
        if self._reader is not None:
            # First: the last connection to close checkpoints the WAL (disk I/O), and that
            # must be the writer's, on its own thread, not this one on the event loop.
            self._reader.close()
            self._reader = None
        if self._writer is not None:
            ids = [(now, d) for d in online]
            self._writer.submit_nowait(
                lambda c: c.executemany("UPDATE devices SET online = 0, last_seen = ? WHERE id = ?", ids)
            )
            self._writer.kick()
            await asyncio.to_thread(self._writer.close)

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _housekeeping(self) -> None:
        # Revocations (`qira devices revoke`) and tokens issued directly (`qira pair
        # --token`) come from another process: poll the counter they bump (one tiny
        # indexed read); revoked devices are closed at once.
        ticks = 0
        while True:
            await asyncio.sleep(_REVOCATION_POLL_S)
            ticks += 1
            try:
                self._check_device_changes()
            except Exception:
                log.exception("revocation check failed")
            if ticks % 2 == 0:
                now = time.monotonic()
                for conn in list(self._all_conns):
                    conn.protocol.tick(now)
                    conn.flush()
                    conn.check_backlog()
            if ticks % 20 == 0:  # so `qira devices list` shows a recent "last seen" for online devices
                seen = [(self._seen[d], d) for d in self._conns if d in self._seen]

                def job(c: Any, seen: list[tuple[float, str]] = seen) -> None:  # bound now, run later
                    c.executemany("UPDATE devices SET last_seen = ? WHERE id = ?", seen)

                self._writer_nowait(job)

    def _check_device_changes(self) -> None:
        assert self._reader is not None
        count = self._reader.device_changes()
        if count == self._device_changes:
            return
        self._device_changes = count
        for row in self._reader.devices(include_revoked=True):
            if row.revoked is not None and row.id in self._devices:
                self._revoke_local(row.id, row.token_hash)
            elif row.revoked is None and row.id not in self._devices:  # `qira pair --token`
                self._add_device(row)
                self._notify(self._devices[row.id])

    def _revoke_local(self, device_id: str, token_hash: str | None) -> None:
        info = self._devices.pop(device_id)
        if token_hash:
            self._by_token.pop(token_hash, None)
            self._revoked_tokens.add(token_hash)
        self._pending.pop(device_id, None)
        conn = self._conns.pop(device_id, None)
        if conn is not None:
            conn.live = False
            conn.close(CloseCode.REVOKED, "revoked")
        log.info("device %s (%s) revoked", info.name, device_id)
        self._notify(replace(info, online=False))

    # -- the endpoint --------------------------------------------------------

    async def _endpoint(self, ws: WebSocket) -> None:
        await ws.accept()
        if self._stopping:
            await ws.close(CloseCode.GOING_AWAY, "hub shutting down")
            return
        client = ws.client
        peer = f"{client.host}:{client.port}" if client else "?"
        conn = Connection(
            ws,
            ServerProtocol(self.limits, time.monotonic()),
            peer,
            self._dirty,
            max_queued_bytes=self.config.max_queued_bytes,
        )
        conn.address = client_address(client.host if client else "?", ws.headers.get("x-forwarded-for"), self._trusted)
        self._all_conns.add(conn)
        try:
            while not conn.closed.is_set():
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                now = time.monotonic()
                text = message.get("text")
                if text is not None:
                    conn.protocol.receive_text(text, now)
                else:
                    conn.protocol.receive_bytes(message.get("bytes") or b"", now)
                if conn.device_id is not None:
                    self._seen[conn.device_id] = time.time()
                for event in conn.protocol.events_received():
                    await self._handle(conn, event)
                conn.flush()
                while self._dirty:  # replies and fan-out, written now while the sockets take them
                    await self._dirty.pop().send_inline()
                if conn.protocol.phase is Phase.CLOSED:
                    # Closed by the protocol (4005, 4006, 4009, ...): read nothing more from it (the
                    # socket layer then stops reading too), just let the close frame go out.
                    await conn.drain(CLOSE_GRACE_S)
                    break
        except Exception as exc:  # a broken socket ends this device's connection only
            log.debug("connection %s ended: %s", peer, exc)
        finally:
            self._all_conns.discard(conn)
            conn.abort()
            self._disconnected(conn)

    def _disconnected(self, conn: Connection) -> None:
        device_id = conn.device_id
        if device_id is not None and conn.protocol.close_code in (CloseCode.RATE_LIMITED, CloseCode.TOO_SLOW):
            # Reconnecting at once would only repeat it: refuse the device for a while (see _hello).
            self._cooldown[device_id] = time.monotonic() + COOLDOWN_S
        if device_id is None or self._conns.get(device_id) is not conn:
            return
        del self._conns[device_id]
        info = self._devices.get(device_id)
        if info is None:
            return
        info = replace(info, online=False, last_seen=time.time())
        self._devices[device_id] = info
        if not self._stopping:
            self._writer_nowait(
                lambda c: c.execute(
                    "UPDATE devices SET online = 0, last_seen = ? WHERE id = ?", (info.last_seen, device_id)
                )
            )
        self._notify(info)

    async def _handle(self, conn: Connection, event: object) -> None:
        if isinstance(event, Operation):
            self._operation(conn, event)
        elif isinstance(event, DocMessage):
            assert self._shared is not None
            self._shared.handle(conn, event)
        elif isinstance(event, Ack):
            self._ack(conn, event)
        elif isinstance(event, Hello):
            await self._hello(conn, event)
        elif isinstance(event, PresenceUpdate):
            self._presence_update(conn, event)
        elif isinstance(event, AudioChunk):
            self._audio_chunk(conn, event)

    def _writer_nowait(self, job: Callable[[Any], Any]) -> None:
        if self._writer is not None:
            self._writer.submit_nowait(job)

    # -- operations: exactly once ----------------------------------------------

    def _operation(self, conn: Connection, op: Operation) -> None:
        device_id = conn.device_id
        assert device_id is not None
        state = self._ops[device_id]
        proto = conn.protocol
        if op.seq <= state.acked_seq:
            proto.fail(
                op.id,
                ErrorCode.SEQ_ALREADY_ACKED,
                "this seq was acknowledged already",
                op.seq,
                acked_seq=state.acked_seq,
            )
        elif op.seq > state.last_seq + 1:
            proto.fail(
                op.id,
                ErrorCode.SEQ_OUT_OF_ORDER,
                f"expected seq {state.last_seq + 1}",
                op.seq,
                expected=state.last_seq + 1,
            )
        elif op.seq in state.results:
            proto.send_raw(with_id(op.id, state.results[op.seq]))
        elif op.seq in state.inflight:
            self._spawn(self._reply_when_done(conn, op.id, state.inflight[op.seq]))
        else:
            state.last_seq = max(state.last_seq, op.seq)
            future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            state.inflight[op.seq] = future
            self._spawn(self._run(conn, device_id, op, state, future))

    async def _reply_when_done(self, conn: Connection, id: int, future: asyncio.Future[str]) -> None:
        body = await asyncio.shield(future)
        conn.enqueue(with_id(id, body))

    async def _run(
        self, conn: Connection, device_id: str, op: Operation, state: OpState, future: asyncio.Future[str]
    ) -> None:
        updates: list[tuple[str, bytes]] = []
        if op.refused is not None:  # refused at the edge; the refusal is this seq's reply, stored like any
            body = error_body(op.seq, ErrorCode.INVALID_PARAMS, op.refused)
        elif op.type == "state.append":
            assert self._shared is not None
            body, updates = self._shared.state_append(op)
        else:
            body = await run_handler(self._handlers.get(op.type), self._devices.get(device_id), op)
        assert self._writer is not None and self._docs is not None

        def job(c: Any) -> None:
            HubDocs.insert(c, updates)  # an op's document changes commit with its result, or not at all
            c.execute("INSERT OR REPLACE INTO op_results VALUES (?, ?, ?)", (device_id, op.seq, body))

        try:
            await self._writer.submit(job)
        except Exception:
            log.exception("could not store the result of %s seq %d", device_id, op.seq)
            self._docs.publish(updates, committed=False)
            state.inflight.pop(op.seq, None)
            future.cancel()
            return  # not acked: the device will replay it
        self._docs.publish(updates)
        if body.startswith('"type":"result"'):
            _schema.mirror_op(self._docs.docs, device_id, op.type, op.payload, body)
        state.results[op.seq] = body
        state.inflight.pop(op.seq, None)
        future.set_result(body)
        if self._conns.get(device_id) is conn:
            conn.enqueue(with_id(op.id, body))

    def _ack(self, conn: Connection, ack: Ack) -> None:
        device_id = conn.device_id
        assert device_id is not None
        if ack.hub_seq is not None:
            pending = self._pending.get(device_id)
            if pending:
                self._pending[device_id] = [(s, f) for s, f in pending if s > ack.hub_seq]
            hub_seq = ack.hub_seq
            self._writer_nowait(
                lambda c: c.execute("DELETE FROM events WHERE device_id = ? AND hub_seq <= ?", (device_id, hub_seq))
            )
        if ack.op_seq is not None:
            op_seq = self._ops[device_id].prune(ack.op_seq)
            if op_seq is not None:

                def job(c: Any) -> None:
                    c.execute("DELETE FROM op_results WHERE device_id = ? AND seq <= ?", (device_id, op_seq))
                    c.execute("UPDATE devices SET acked_seq = max(acked_seq, ?) WHERE id = ?", (op_seq, device_id))

                self._writer_nowait(job)

    # -- presence and audio ----------------------------------------------------

    def _presence_update(self, conn: Connection, update: PresenceUpdate) -> None:
        info = self._devices.get(conn.device_id or "")
        if info is None:
            return
        now = time.time()
        caps = {**info.capabilities, **update.capabilities}
        if len(caps) > MAX_CAPABILITIES:
            conn.protocol.fail(update.id, ErrorCode.INVALID_PARAMS, f"at most {MAX_CAPABILITIES} capabilities in all")
            return
        info = replace(info, capabilities=caps, last_seen=now, last_active=now if update.active else info.last_active)
        self._devices[info.id] = info
        conn.protocol.reply(update.id, {})
        caps_json = dumps(caps)
        self._writer_nowait(
            lambda c: c.execute(
                "UPDATE devices SET capabilities = ?, last_active = ?, last_seen = ? WHERE id = ?",
                (caps_json, info.last_active, now, info.id),
            )
        )
        self._notify(info)

    def _notify(self, info: DeviceInfo) -> None:
        frame = event_frame("presence", info.presence())
        for other_id, other in self._conns.items():
            if other_id != info.id and other.live:
                other.enqueue(frame)
        for callback in self._presence:
            self._call(callback, info)

    def _audio_chunk(self, conn: Connection, chunk: AudioChunk) -> None:
        info = self._devices.get(conn.device_id or "")
        if info is not None:
            for handler in self._audio:
                self._call(handler, info, chunk.frame.stream, chunk.frame.seq, chunk.frame.data)

    def _call(self, callback: Callable[..., Any], *args: Any) -> None:
        try:
            outcome = callback(*args)
        except Exception:
            log.exception("callback %r failed", callback)
            return
        if inspect.isawaitable(outcome):
            self._spawn(_logged(outcome))


async def _noop(_device: DeviceInfo, payload: Mapping[str, Any]) -> Mapping[str, Any]:
    return {}


async def _logged(awaitable: Awaitable[Any]) -> None:
    try:
        await awaitable
    except Exception:
        log.exception("callback failed")
