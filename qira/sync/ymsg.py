"""The y-protocols message layer (what y-websocket puts in each binary frame).

A message is ``varUint type`` (0 sync, 1 awareness) then, for sync,
``varUint step`` (0 step 1, 1 step 2, 2 update) and ``varUint8Array`` payload;
for awareness, one ``varUint8Array`` awareness update. Byte-compatible with the
JavaScript ``y-protocols`` package and with pycrdt's helpers.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass

from ._wire import WireError, read_var_string, read_var_uint, write_var_uint

__all__ = ["YKind", "YMessage", "SyncStep", "awareness", "parse", "step1", "step2", "update", "check_awareness"]


class YKind(enum.IntEnum):
    SYNC = 0
    AWARENESS = 1


class SyncStep(enum.IntEnum):
    STEP1 = 0  # payload: a state vector
    STEP2 = 1  # payload: the update the receiver is missing
    UPDATE = 2  # payload: an incremental update


@dataclass(frozen=True, kw_only=True, slots=True)
class YMessage:
    kind: YKind
    step: SyncStep | None
    payload: bytes


def _payload(data: bytes, pos: int) -> bytes:
    size, pos = read_var_uint(data, pos)
    if pos + size != len(data):
        raise WireError("y-protocols payload length does not match the frame")
    return data[pos : pos + size]


def parse(message: bytes) -> YMessage:
    kind, pos = read_var_uint(message, 0)
    if kind == YKind.SYNC:
        step, pos = read_var_uint(message, pos)
        if step not in (0, 1, 2):
            raise WireError(f"unknown sync step {step}")
        return YMessage(kind=YKind.SYNC, step=SyncStep(step), payload=_payload(message, pos))
    if kind == YKind.AWARENESS:
        return YMessage(kind=YKind.AWARENESS, step=None, payload=_payload(message, pos))
    raise WireError(f"unsupported y-protocols message type {kind}")


def check_awareness(payload: bytes) -> None:
    """Raise WireError unless ``payload`` is a well-formed awareness update (JSON states)."""
    count, pos = read_var_uint(payload, 0)
    for _ in range(count):
        _client, pos = read_var_uint(payload, pos)
        _clock, pos = read_var_uint(payload, pos)
        state, pos = read_var_string(payload, pos)
        if state:
            try:
                json.loads(state)
            except ValueError as exc:
                raise WireError("awareness state is not JSON") from exc
    if pos != len(payload):
        raise WireError("trailing bytes in awareness update")


def _sync(step: SyncStep, payload: bytes) -> bytes:
    return bytes((YKind.SYNC, step)) + write_var_uint(len(payload)) + payload


def step1(state_vector: bytes) -> bytes:
    return _sync(SyncStep.STEP1, state_vector)


def step2(update_: bytes) -> bytes:
    return _sync(SyncStep.STEP2, update_)


def update(update_: bytes) -> bytes:
    return _sync(SyncStep.UPDATE, update_)


def awareness(update_: bytes) -> bytes:
    return bytes((YKind.AWARENESS,)) + write_var_uint(len(update_)) + update_
