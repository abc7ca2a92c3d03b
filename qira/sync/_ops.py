"""Exactly-once bookkeeping for device operations, and the reply bodies it stores.

A reply is stored as its JSON *body* (everything after ``"v"`` and ``"id"``) so a
replay on any connection re-attaches that connection's request id without
re-encoding.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..devices import DeviceInfo, MessageHandler
from ..errors import ProtocolError
from ._wire import PROTOCOL_VERSION, ErrorCode, dumps
from .protocol import Operation

__all__ = ["OpState", "error_body", "result_body", "run_handler", "with_id"]

log = logging.getLogger("qira.sync")


@dataclass
class OpState:
    """One device's operations: accepted up to ``last_seq``, replies stored until acked."""

    last_seq: int = 0  # highest seq accepted
    acked_seq: int = 0  # the device has every reply up to here; their results are pruned
    results: dict[int, str] = field(default_factory=dict)  # seq -> stored reply body
    inflight: dict[int, asyncio.Future[str]] = field(default_factory=dict)

    def prune(self, op_seq: int) -> int | None:
        """The device acknowledged every reply up to ``op_seq``: forget them. Returns the new mark."""
        op_seq = min(op_seq, self.last_seq)
        if op_seq <= self.acked_seq or any(s <= op_seq for s in self.inflight):
            return None
        for seq in [s for s in self.results if s <= op_seq]:
            del self.results[seq]
        self.acked_seq = op_seq
        return op_seq


def with_id(id: int, body: str) -> str:
    return f'{{"v":{PROTOCOL_VERSION},"id":{id},{body}'


def result_body(seq: int, result: Mapping[str, Any]) -> str:
    return dumps({"type": "result", "seq": seq, "result": dict(result)})[1:]


def error_body(seq: int, code: str, message: str) -> str:
    message = message.encode("utf-8", "replace").decode("utf-8")  # always storable, always sendable
    return dumps({"type": "error", "seq": seq, "code": str(code), "message": message})[1:]


async def run_handler(handler: MessageHandler | None, info: DeviceInfo | None, op: Operation) -> str:
    """Run ``handler`` and turn whatever happens into a reply body; never raises."""
    if handler is None or info is None:
        return error_body(op.seq, ErrorCode.UNKNOWN_TYPE, f"no handler for {op.type!r}")
    try:
        result = await handler(info, op.payload)
        body = result_body(op.seq, result or {})
        body.encode("utf-8")  # a reply that cannot be stored or sent would leave the seq unanswered for good
        return body
    except ProtocolError as exc:
        return error_body(op.seq, exc.code, str(exc))
    except (KeyboardInterrupt, SystemExit, asyncio.CancelledError):
        raise
    except BaseException as exc:  # noqa: B036 -- a Rust panic (pyo3) derives from BaseException only
        log.exception("handler for %s failed", op.type)
        return error_body(op.seq, ErrorCode.INTERNAL_ERROR, f"{type(exc).__name__} in the {op.type} handler")
