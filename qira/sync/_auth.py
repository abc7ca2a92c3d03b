"""Authentication on the hub: ``hello`` with a token or a pairing code (a mixin of SyncServer)."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ._pairing import hash_secret, new_token
from ._store import DeviceRow, SyncStore
from ._wire import DOC_NAMES, PROTOCOL_VERSION, CloseCode, ErrorCode, dumps
from .protocol import Hello, Phase

if TYPE_CHECKING:
    from ._conn import Connection

__all__ = ["AuthMixin"]

log = logging.getLogger("qira.sync")


class AuthMixin:
    """Needs the SyncServer's device tables, writer, reader and pairing guard."""

    _by_token: dict[str, str]
    _revoked_tokens: set[str]
    _devices: dict[str, Any]
    _conns: dict[str, Any]
    _ops: dict[str, Any]
    _pending: dict[str, list[tuple[int, str]]]
    _hub_seq: int
    _cooldown: dict[str, float]
    _guard: Any
    _writer: Any
    _reader: SyncStore | None
    config: Any
    limits: Any

    def _add_device(self, row: DeviceRow) -> None: ...
    def _notify(self, info: Any) -> None: ...
    def _revoke_local(self, device_id: str, token_hash: str | None) -> None: ...
    def _writer_nowait(self, job: Any) -> None: ...

    async def _hello(self, conn: Connection, hello: Hello) -> None:
        proto = conn.protocol
        token: str | None = None
        if hello.token is not None:
            digest = hash_secret(hello.token)
            device_id = self._by_token.get(digest)
            if device_id is None and digest not in self._revoked_tokens:
                device_id = self._issued_elsewhere(digest)
            if device_id is None:
                revoked = digest in self._revoked_tokens
                code = ErrorCode.REVOKED if revoked else ErrorCode.AUTH_FAILED
                proto.reject(
                    hello.id,
                    code,
                    "this device was revoked" if revoked else "unknown token",
                    CloseCode.REVOKED if revoked else CloseCode.AUTH_FAILED,
                )
                return
        else:
            host = conn.address
            wait = self._guard.locked(host, time.monotonic())
            if wait:
                proto.reject(hello.id, ErrorCode.PAIRING_LOCKED, f"too many wrong codes: try again in {wait:.0f}s")
                return
            token = new_token()
            device_id = await self._pair(hello.pair_code or "", token)
            if device_id is None:
                self._guard.failed(host, time.monotonic())
                proto.reject(hello.id, ErrorCode.AUTH_FAILED, "unknown, used or expired pairing code")
                return
            self._guard.succeeded(host)
        if proto.phase is Phase.CLOSED or device_id not in self._devices:
            return
        wait = self._cooldown.get(device_id, 0.0) - time.monotonic()
        if wait > 0:  # closed for flooding or not reading moments ago
            proto.fail(
                hello.id,
                ErrorCode.RATE_LIMITED,
                "closed for flooding or not reading: wait before reconnecting",
                retry_after=round(wait, 3),
            )
            proto.close(CloseCode.RATE_LIMITED, "rate_limited")
            return
        self._cooldown.pop(device_id, None)
        old = self._conns.get(device_id)
        if old is not None:
            old.live = False
            old.close(CloseCode.REPLACED, "replaced by a newer connection")
        conn.device_id = device_id
        self._conns[device_id] = conn
        known = self._devices[device_id]
        # A hello without "capabilities" keeps what the hub knew; with them, they replace it.
        caps_given = hello.capabilities is not None
        info = replace(
            known,
            online=True,
            last_seen=time.time(),
            capabilities=dict(hello.capabilities) if hello.capabilities is not None else known.capabilities,
        )
        self._devices[device_id] = info
        ops = self._ops[device_id]
        result: dict[str, Any] = {
            "device_id": device_id,
            "name": info.name,
            "kind": info.kind.value,
            "protocol": PROTOCOL_VERSION,
            "hub_seq": self._hub_seq,
            "last_seq": ops.last_seq,
            "acked_seq": ops.acked_seq,
            "docs": sorted(DOC_NAMES),
            "heartbeat_s": self.config.ping_interval_s,
            "idle_timeout_s": self.config.idle_timeout_s,
            "limits": {
                "max_frame_bytes": self.limits.max_frame_bytes,
                "messages_per_second": self.limits.messages_per_second,
                "burst": self.limits.burst,
            },
        }
        if token is not None:
            result["token"] = token
        proto.accept(hello.id, result)
        for hub_seq, frame in self._pending.get(device_id, []):
            if hub_seq > hello.resume_hub_seq:
                proto.send_raw(frame)
        conn.live = True
        caps = dumps(dict(info.capabilities))
        if caps_given:
            self._writer_nowait(
                lambda c: c.execute(
                    "UPDATE devices SET online = 1, last_seen = ?, capabilities = ? WHERE id = ?",
                    (info.last_seen, caps, device_id),
                )
            )
        else:
            self._writer_nowait(
                lambda c: c.execute(
                    "UPDATE devices SET online = 1, last_seen = ? WHERE id = ?", (info.last_seen, device_id)
                )
            )
        self._notify(info)

    async def _pair(self, code: str, token: str) -> str | None:
        assert self._writer is not None
        now = time.time()

        def job(c: Any) -> DeviceRow | None:
            found = SyncStore.consume_code(c, code, now)
            return None if found is None else SyncStore.create_device(c, found[0], found[1], token, now)

        row = await self._writer.submit(job)
        if row is None:
            return None
        for other in [d for d in self._devices.values() if d.name == row.name]:
            self._revoke_local(other.id, None)
        self._add_device(row)
        log.info("paired device %s (%s, %s)", row.name, row.kind, row.id)
        return row.id

    def _issued_elsewhere(self, token_hash: str) -> str | None:
        """A token this hub does not know yet: `qira pair --token` (another process) may have
        just created it. Look it up now (one indexed read) rather than at the next poll,
        so the device is accepted at once."""
        if self._reader is None:  # stopping
            return None
        try:
            row = self._reader.device_by_token_hash(token_hash)
        except Exception:
            log.exception("token lookup failed")
            return None
        if row is None or row.revoked is not None:
            return None
        if row.id not in self._devices:
            self._add_device(row)
            self._notify(self._devices[row.id])
        return row.id
