"""Shared CRDT documents on the wire: the Yjs state exchange, relaying updates, awareness.

The hub answers a device's step 1 with step 2 (and its own step 1), applies the
device's updates and relays them to the other subscribed devices. Changes made
by an operation (``state.append``) reach devices only once committed with the
operation's result, so a replayed operation can never show up twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pycrdt import Array

from . import ymsg
from ._conn import Connection
from ._docs import CorruptUpdate, HubDocs, get_update_safely
from ._ops import error_body, result_body
from ._schema import is_hub_root
from ._store import Writer
from ._wire import DOC_NAMES, ErrorCode, encode_doc
from .protocol import DocMessage, Operation, Phase

__all__ = ["SharedDocs"]


class SharedDocs:
    def __init__(
        self, writer: Writer, conns: Mapping[str, Connection], spawn: Callable[[Awaitable[Any]], asyncio.Task[Any]]
    ) -> None:
        self._writer = writer
        self._conns = conns  # device id -> live connection (owned by the server)
        self._spawn = spawn
        self.docs = HubDocs(writer, self._fanout)

    def handle(self, conn: Connection, event: DocMessage) -> None:
        name, message = event.doc, event.message
        try:
            if message.kind is ymsg.YKind.AWARENESS:
                frame = encode_doc(name, event.raw)
                for other in self._conns.values():
                    if other is not conn and name in other.docs:
                        other.enqueue(frame)
            elif message.step is ymsg.SyncStep.STEP1:
                if self.docs.unpublished(name):
                    self._spawn(self._step1_after_commit(conn, name, message.payload))
                else:
                    self._answer_step1(conn, name, message.payload)
            else:
                self.docs.apply_remote(name, message.payload, conn)
        except CorruptUpdate as exc:
            conn.protocol.corrupt_update(name, str(exc))

    def _answer_step1(self, conn: Connection, name: str, state_vector: bytes) -> None:
        doc = self.docs.docs[name]
        conn.protocol.send_doc(name, ymsg.step2(get_update_safely(doc, state_vector)))
        if name not in conn.docs:
            conn.docs.add(name)
            conn.protocol.send_doc(name, ymsg.step1(doc.get_state()))

    async def _step1_after_commit(self, conn: Connection, name: str, state_vector: bytes) -> None:
        # An operation's change is in the hub's document but not yet on disk: answer
        # once it is, so no device holds an effect whose operation could run again.
        while self.docs.unpublished(name):
            await self._writer.barrier()
            await asyncio.sleep(0)  # let the operation's task publish first
        if conn.protocol.phase is not Phase.CLOSED:
            try:
                self._answer_step1(conn, name, state_vector)
            except CorruptUpdate as exc:
                conn.protocol.corrupt_update(name, str(exc))
            conn.flush()

    def _fanout(self, name: str, update: bytes, origin: object) -> None:
        frame = encode_doc(name, ymsg.update(update))
        for conn in self._conns.values():
            if conn is not origin and name in conn.docs:
                conn.enqueue(frame)

    def state_append(self, op: Operation) -> tuple[str, list[tuple[str, bytes]]]:
        doc, key, payload = op.payload.get("doc"), op.payload.get("key"), op.payload
        if doc not in DOC_NAMES or not isinstance(key, str) or not key or "value" not in payload:
            return error_body(
                op.seq, ErrorCode.INVALID_PARAMS, 'state.append needs "doc" (a shared document), "key" and "value"'
            ), []
        if is_hub_root(str(doc), key) or len(key) > 200:
            return error_body(
                op.seq,
                ErrorCode.INVALID_PARAMS,
                f'"{key[:40]}" in {doc} is not an array devices append to (see "Shared documents")',
            ), []
        with self.docs.capture() as captured:
            try:
                array = self.docs.docs[str(doc)].get(key, type=Array)
                array.append(payload["value"])
                index = len(array) - 1
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # noqa: B036 -- the engine panics (pyo3: BaseException) on what it cannot hold
                # Still a reply, stored like a result: a replay gets it again instead of panicking again.
                # Whatever the engine did change (captured) commits with it, so disk matches memory.
                return error_body(
                    op.seq,
                    ErrorCode.INVALID_PARAMS,
                    f"the shared document cannot hold this value ({type(exc).__name__}: {exc})"[:300],
                ), captured
        return result_body(op.seq, {"index": index}), captured
