"""Wire constants and the binary frame codec shared by both ends.

Everything here is pure: bytes and dicts in, bytes and dicts out. The names and
numbers are the contract in ``docs/protocol.md``; change them only with a new
protocol version.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CONTROL_TYPES",
    "DOC_NAMES",
    "PROTOCOL_VERSION",
    "RESERVED_KEYS",
    "AudioFrame",
    "CloseCode",
    "DocFrame",
    "ErrorCode",
    "FrameKind",
    "WireError",
    "decode_binary",
    "dumps",
    "encode_audio",
    "encode_doc",
    "read_var_string",
    "read_var_uint",
    "write_var_string",
    "write_var_uint",
]

PROTOCOL_VERSION = 1

# The shared CRDT documents. A device may subscribe to any of them.
DOC_NAMES = frozenset({"context", "threads", "settings", "reminders", "notifications", "notes"})  # notes: issue 13

# Message types the protocol itself owns; every other device->hub type is an
# application operation and must carry ``seq``.
CONTROL_TYPES = frozenset({"hello", "ping", "presence", "ack"})

# Keys of the envelope; an application payload is every other key.
RESERVED_KEYS = frozenset({"v", "id", "type", "seq", "hub_seq"})


class ErrorCode(enum.StrEnum):
    BAD_JSON = "bad_json"  # a text frame that is not a JSON object
    BAD_ENVELOPE = "bad_envelope"  # missing or wrong-typed envelope field
    UNSUPPORTED_VERSION = "unsupported_version"
    UNKNOWN_TYPE = "unknown_type"
    NOT_AUTHENTICATED = "not_authenticated"  # anything but hello before hello succeeded
    ALREADY_AUTHENTICATED = "already_authenticated"
    AUTH_FAILED = "auth_failed"
    REVOKED = "revoked"
    PAIRING_LOCKED = "pairing_locked"
    RATE_LIMITED = "rate_limited"
    SEQ_OUT_OF_ORDER = "seq_out_of_order"
    SEQ_ALREADY_ACKED = "seq_already_acked"
    BAD_FRAME = "bad_frame"  # a binary frame that does not parse
    UNKNOWN_DOC = "unknown_doc"
    CORRUPT_UPDATE = "corrupt_update"
    INVALID_PARAMS = "invalid_params"  # shared with the memory and agent messages
    INTERNAL_ERROR = "internal_error"


class CloseCode(enum.IntEnum):
    NORMAL = 1000
    GOING_AWAY = 1001  # the hub is shutting down: reconnect later
    INVALID_DATA = 1007  # a text frame that is not UTF-8 (sent by the WebSocket layer)
    MESSAGE_TOO_BIG = 1009  # a frame over max_frame_bytes
    INTERNAL_ERROR = 1011
    AUTH_FAILED = 4001  # bad token or pairing code: do not retry with the same credentials
    AUTH_TIMEOUT = 4002  # no successful hello within auth_timeout_s
    REVOKED = 4003  # the device was revoked: its token never works again
    REPLACED = 4004  # the same device connected again; this older connection is closed
    RATE_LIMITED = 4005  # kept flooding after rate_limited errors
    PROTOCOL_VIOLATION = 4006  # too many malformed frames in a row
    IDLE_TIMEOUT = 4008  # nothing received within idle_timeout_s
    TOO_SLOW = 4009  # the device did not read its events fast enough


class FrameKind(enum.IntEnum):
    DOC = 0  # varString doc + one y-protocols message (sync or awareness)
    AUDIO = 1  # varString stream id + varUint chunk seq + raw audio bytes


class WireError(ValueError):
    """A binary frame that does not parse (becomes ``bad_frame``)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class DocFrame:
    doc: str
    message: bytes  # a complete y-protocols message: varUint type, then its body


@dataclass(frozen=True, kw_only=True, slots=True)
class AudioFrame:
    stream: str
    seq: int
    data: bytes


def dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def write_var_uint(num: int) -> bytes:
    out = bytearray()
    while num > 127:
        out.append(128 | (num & 127))
        num >>= 7
    out.append(num)
    return bytes(out)


def read_var_uint(data: bytes, pos: int) -> tuple[int, int]:
    num = 0
    shift = 0
    while True:
        if pos >= len(data):
            raise WireError("truncated varUint")
        byte = data[pos]
        pos += 1
        num |= (byte & 127) << shift
        if byte < 128:
            return num, pos
        shift += 7
        if shift > 63:
            raise WireError("varUint too long")


def write_var_string(text: str) -> bytes:
    raw = text.encode()
    return write_var_uint(len(raw)) + raw


def read_var_string(data: bytes, pos: int) -> tuple[str, int]:
    size, pos = read_var_uint(data, pos)
    end = pos + size
    if end > len(data):
        raise WireError("truncated varString")
    try:
        return data[pos:end].decode(), end
    except UnicodeDecodeError as exc:
        raise WireError("varString is not UTF-8") from exc


def encode_doc(doc: str, message: bytes) -> bytes:
    return bytes((FrameKind.DOC,)) + write_var_string(doc) + message


def encode_audio(stream: str, seq: int, data: bytes) -> bytes:
    return bytes((FrameKind.AUDIO,)) + write_var_string(stream) + write_var_uint(seq) + data


def decode_binary(data: bytes) -> DocFrame | AudioFrame:
    if not data:
        raise WireError("empty binary frame")
    kind = data[0]
    if kind == FrameKind.DOC:
        doc, pos = read_var_string(data, 1)
        if pos >= len(data):
            raise WireError("doc frame without a message")
        return DocFrame(doc=doc, message=bytes(data[pos:]))
    if kind == FrameKind.AUDIO:
        stream, pos = read_var_string(data, 1)
        if not stream:
            raise WireError("audio frame without a stream id")
        seq, pos = read_var_uint(data, pos)
        return AudioFrame(stream=stream, seq=seq, data=bytes(data[pos:]))
    raise WireError(f"unknown binary frame kind {kind}")
