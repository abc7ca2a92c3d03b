"""The sans-I/O protocol core, one module for both ends.

Feed it frames with ``receive_text``/``receive_bytes`` (and the current time —
it owns no clock), then collect what happened with ``events_received()`` and
what to write with ``data_to_send()`` (``str`` text frames, ``bytes`` binary
frames, and at most one :class:`Close`). :class:`ServerProtocol` is the hub's
side, :class:`ClientProtocol` the device's; both live here so they cannot drift.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from . import ymsg
from ._values import INT_MAX, BadJson, capabilities_problem, loads, value_problem
from ._wire import (
    CONTROL_TYPES,
    DOC_NAMES,
    PROTOCOL_VERSION,
    RESERVED_KEYS,
    AudioFrame,
    CloseCode,
    ErrorCode,
    WireError,
    decode_binary,
    dumps,
    encode_audio,
    encode_doc,
)

__all__ = [
    "Ack",
    "AudioChunk",
    "ClientProtocol",
    "Close",
    "DocMessage",
    "Hello",
    "HubEvent",
    "Limits",
    "Malformed",
    "Operation",
    "Phase",
    "PresenceUpdate",
    "Reply",
    "ServerProtocol",
]

_TYPE_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")
_MAX_TYPE_LEN = 64


class Phase(enum.StrEnum):
    AUTH = "auth"  # only hello is accepted
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, kw_only=True)
class Limits:
    max_frame_bytes: int = 1_048_576
    messages_per_second: float = 100.0
    burst: int = 400
    auth_timeout_s: float = 10.0
    idle_timeout_s: float = 60.0
    max_bad_frames: int = 50  # malformed frames in a row before close 4006
    flood_window_s: float = 10.0  # more than ``burst`` refusals within this window: close 4005


# -- events ------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class Close:
    code: int
    reason: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class Hello:
    id: int
    token: str | None
    pair_code: str | None
    capabilities: dict[str, Any] | None  # None: not sent, the hub keeps what it knew
    resume_hub_seq: int
    client: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Operation:
    id: int
    seq: int
    type: str
    payload: dict[str, Any]
    # Why the payload was refused at the edge (an unpaired surrogate, an integer past
    # 64 bits): the operation still takes its seq, and this becomes its stored reply.
    refused: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class PresenceUpdate:
    id: int
    active: bool
    capabilities: dict[str, Any]


@dataclass(frozen=True, kw_only=True, slots=True)
class Ack:
    hub_seq: int | None
    op_seq: int | None


@dataclass(frozen=True, kw_only=True, slots=True)
class DocMessage:
    doc: str
    message: ymsg.YMessage
    raw: bytes  # the y-protocols message as received, for relaying unchanged


@dataclass(frozen=True, kw_only=True, slots=True)
class AudioChunk:
    frame: AudioFrame


@dataclass(frozen=True, kw_only=True, slots=True)
class Reply:
    id: int | None
    ok: bool
    seq: int | None = None
    result: dict[str, Any] = field(default_factory=dict)
    code: str = ""
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class HubEvent:
    type: str
    hub_seq: int | None
    payload: dict[str, Any]


@dataclass(frozen=True, kw_only=True, slots=True)
class Malformed:
    reason: str


Frame = str | bytes | Close


# -- frame builders (also used for fan-out: encode once, send to many) --------


def result_frame(id: int | None, result: dict[str, Any], seq: int | None = None) -> str:
    out: dict[str, Any] = {"v": PROTOCOL_VERSION, "id": id, "type": "result"}
    if seq is not None:
        out["seq"] = seq
    out["result"] = result
    return dumps(out)


def error_frame(id: int | None, code: str, message: str, seq: int | None = None, **extra: Any) -> str:
    out: dict[str, Any] = {"v": PROTOCOL_VERSION, "id": id, "type": "error", "code": str(code), "message": message}
    if seq is not None:
        out["seq"] = seq
    out.update(extra)
    return dumps(out)


def event_frame(type: str, payload: dict[str, Any], hub_seq: int | None = None) -> str:
    out: dict[str, Any] = {"v": PROTOCOL_VERSION, "type": type}
    if hub_seq is not None:
        out["hub_seq"] = hub_seq
    for key, value in payload.items():
        if key in RESERVED_KEYS:
            raise ValueError(f"payload key {key!r} is reserved by the envelope")
        out[key] = value
    return dumps(out)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _in_range(value: Any, low: int) -> TypeGuard[int]:
    """An envelope integer: at least ``low``, at most what SQLite can hold."""
    return _is_int(value) and low <= value <= INT_MAX


class _Protocol:
    def __init__(self) -> None:
        self.phase = Phase.AUTH
        self.close_code: int | None = None
        self._events: list[object] = []
        self._out: list[Frame] = []

    def events_received(self) -> list[object]:
        events, self._events = self._events, []
        return events

    def data_to_send(self) -> list[Frame]:
        out, self._out = self._out, []
        return out

    def close(self, code: int, reason: str = "") -> None:
        if self.phase is Phase.CLOSED:
            return
        self.phase = Phase.CLOSED
        self.close_code = code
        self._out.append(Close(code=code, reason=reason[:120]))

    def send_doc(self, doc: str, message: bytes) -> None:
        self._out.append(encode_doc(doc, message))

    def send_audio(self, stream: str, seq: int, data: bytes) -> None:
        self._out.append(encode_audio(stream, seq, data))


class ServerProtocol(_Protocol):
    """The hub's end of one device connection."""

    def __init__(self, limits: Limits, now: float) -> None:
        super().__init__()
        self.limits = limits
        self.opened_at = now
        self.last_received = now
        self._tokens = float(limits.burst)
        self._refilled = now
        self._refused = 0  # messages refused for the rate limit since _refused_since
        self._refused_since = now
        self._retry_at = now  # a refusal before this time ignored the last retry_after
        self._bad = 0

    # -- outgoing --------------------------------------------------------

    def accept(self, id: int, result: dict[str, Any]) -> None:
        self.phase = Phase.OPEN
        self._out.append(result_frame(id, result))

    def reject(self, id: int | None, code: str, message: str, close: int = CloseCode.AUTH_FAILED) -> None:
        self._out.append(error_frame(id, code, message))
        self.close(close, code)

    def reply(self, id: int | None, result: dict[str, Any], seq: int | None = None) -> None:
        self._out.append(result_frame(id, result, seq))

    def fail(self, id: int | None, code: str, message: str, seq: int | None = None, **extra: Any) -> None:
        self._out.append(error_frame(id, code, message, seq, **extra))

    def send_raw(self, frame: str | bytes) -> None:
        self._out.append(frame)

    def send_event(self, type: str, payload: dict[str, Any], hub_seq: int | None = None) -> None:
        self._out.append(event_frame(type, payload, hub_seq))

    # -- timers ----------------------------------------------------------

    def tick(self, now: float) -> None:
        """Enforce the auth and idle timeouts; call it every second or so."""
        if self.phase is Phase.AUTH and now - self.opened_at > self.limits.auth_timeout_s:
            self.close(CloseCode.AUTH_TIMEOUT, "auth_timeout")
        elif self.phase is Phase.OPEN and now - self.last_received > self.limits.idle_timeout_s:
            self.close(CloseCode.IDLE_TIMEOUT, "idle_timeout")

    # -- incoming --------------------------------------------------------

    def _admit(self, now: float, size: int, id: Any = None) -> bool:
        self.last_received = now
        if size > self.limits.max_frame_bytes:
            self.close(CloseCode.MESSAGE_TOO_BIG, "frame over max_frame_bytes")
            return False
        rate = self.limits.messages_per_second
        self._tokens = min(float(self.limits.burst), self._tokens + (now - self._refilled) * rate)
        self._refilled = now
        if self._tokens < 1.0:
            # A flood is a device that keeps sending although told to wait: refusals of
            # messages that arrive before the last retry_after was over are counted over a
            # window, not "in a row" (a flood at full speed gets a token now and then as
            # the bucket refills, which must not excuse it). A device that waits as told
            # is refused now and then, and never closed.
            if now < self._retry_at:
                if now - self._refused_since > self.limits.flood_window_s:
                    self._refused, self._refused_since = 0, now
                self._refused += 1
            if self._refused > self.limits.burst:
                self.close(CloseCode.RATE_LIMITED, "rate_limited")
            else:
                retry = max(0.001, round((1.0 - self._tokens) / rate, 3))
                self._retry_at = now + retry
                self.fail(
                    id if _in_range(id, 0) else None, ErrorCode.RATE_LIMITED, "too many messages", retry_after=retry
                )
            return False
        self._tokens -= 1.0
        return True

    def _bad_input(self, id: Any, code: str, message: str, **extra: Any) -> None:
        self._bad += 1
        if self._bad > self.limits.max_bad_frames:
            self.close(CloseCode.PROTOCOL_VIOLATION, "too many malformed frames")
            return
        self.fail(id if _in_range(id, 0) else None, code, message, **extra)

    def receive_text(self, text: str, now: float) -> None:
        if self.phase is Phase.CLOSED:
            return
        size = len(text) if len(text) * 4 <= self.limits.max_frame_bytes else len(text.encode("utf-8", "replace"))
        try:
            msg = loads(text)
        except BadJson as exc:
            if self._admit(now, size):
                self._bad_input(None, ErrorCode.BAD_JSON, str(exc))
            return
        if not isinstance(msg, dict):
            if self._admit(now, size):
                self._bad_input(None, ErrorCode.BAD_JSON, "a message must be a JSON object")
            return
        id = msg.get("id")
        if not self._admit(now, size, id):
            return
        self._dispatch(msg, id)

    def _dispatch(self, msg: dict[str, Any], id: Any) -> None:
        v = msg.get("v")
        if not _is_int(v):
            return self._bad_input(id, ErrorCode.BAD_ENVELOPE, '"v" must be an integer')
        if v != PROTOCOL_VERSION:
            return self._bad_input(
                id, ErrorCode.UNSUPPORTED_VERSION, f"this hub speaks v{PROTOCOL_VERSION}", supported=[PROTOCOL_VERSION]
            )
        type_ = msg.get("type")
        if not isinstance(type_, str) or len(type_) > _MAX_TYPE_LEN or not _TYPE_RE.fullmatch(type_):
            return self._bad_input(id, ErrorCode.BAD_ENVELOPE, '"type" must be a dotted lower-case name')
        if type_ == "ack":
            return self._ack(msg, id)
        if not _in_range(id, 0):
            return self._bad_input(None, ErrorCode.BAD_ENVELOPE, '"id" must be an integer from 0 to 2**63-1')
        if self.phase is Phase.AUTH:
            if type_ != "hello":
                return self._bad_input(id, ErrorCode.NOT_AUTHENTICATED, "send hello first")
            return self._hello(msg, id)
        if type_ == "hello":
            return self._bad_input(id, ErrorCode.ALREADY_AUTHENTICATED, "this connection is already authenticated")
        if type_ in ("ping", "presence"):
            problem = value_problem(msg)
            if problem:
                return self._bad_input(id, ErrorCode.INVALID_PARAMS, problem)
        if type_ == "ping":
            self._bad = 0
            return self.reply(id, {})
        if type_ == "presence":
            active = msg.get("active", False)
            caps = msg.get("capabilities", {})
            if not isinstance(active, bool) or not isinstance(caps, dict):
                return self._bad_input(
                    id, ErrorCode.BAD_ENVELOPE, '"active" must be a boolean and "capabilities" an object'
                )
            problem = capabilities_problem(caps)
            if problem:
                return self._bad_input(id, ErrorCode.INVALID_PARAMS, problem)
            self._bad = 0
            self._events.append(PresenceUpdate(id=id, active=active, capabilities=caps))
            return None
        seq = msg.get("seq")
        if not _in_range(seq, 1):
            return self._bad_input(
                id, ErrorCode.BAD_ENVELOPE, f'operation "{type_}" needs "seq", an integer from 1 to 2**63-1'
            )
        self._bad = 0
        payload = {k: val for k, val in msg.items() if k not in RESERVED_KEYS}
        self._events.append(Operation(id=id, seq=seq, type=type_, payload=payload, refused=value_problem(payload)))
        return None

    def _ack(self, msg: dict[str, Any], id: Any) -> None:
        if self.phase is not Phase.OPEN:
            return self._bad_input(id, ErrorCode.NOT_AUTHENTICATED, "send hello first")
        hub_seq, op_seq = msg.get("hub_seq"), msg.get("op_seq")
        if (hub_seq is not None and not _in_range(hub_seq, 0)) or (op_seq is not None and not _in_range(op_seq, 0)):
            return self._bad_input(
                id, ErrorCode.BAD_ENVELOPE, '"hub_seq" and "op_seq" must be integers from 0 to 2**63-1'
            )
        self._bad = 0
        self._events.append(Ack(hub_seq=hub_seq, op_seq=op_seq))
        return None

    def _hello(self, msg: dict[str, Any], id: int) -> None:
        token, pair = msg.get("token"), msg.get("pair")
        code = pair.get("code") if isinstance(pair, dict) else None
        caps = msg.get("capabilities")
        resume = msg.get("resume", {})
        hub_seq = resume.get("hub_seq", 0) if isinstance(resume, dict) else None
        client = msg.get("client", "")
        if (token is None) == (code is None) or not isinstance(token or code, str):
            return self._bad_input(id, ErrorCode.BAD_ENVELOPE, 'hello needs exactly one of "token" or "pair": {"code"}')
        if (
            (caps is not None and not isinstance(caps, dict))
            or not _in_range(hub_seq, 0)
            or not isinstance(client, str)
        ):
            return self._bad_input(
                id, ErrorCode.BAD_ENVELOPE, '"capabilities" must be an object, "resume.hub_seq" an integer >= 0'
            )
        problem = value_problem(msg) or (capabilities_problem(caps) if caps is not None else None)
        if problem:
            return self._bad_input(id, ErrorCode.INVALID_PARAMS, problem)
        if len(client) > 200 or len(token or code or "") > 200:
            return self._bad_input(
                id, ErrorCode.INVALID_PARAMS, '"client", "token" and "pair.code" are at most 200 characters'
            )
        self._bad = 0
        self._events.append(
            Hello(id=id, token=token, pair_code=code, capabilities=caps, resume_hub_seq=hub_seq, client=client)
        )
        return None

    def receive_bytes(self, data: bytes, now: float) -> None:
        if self.phase is Phase.CLOSED or not self._admit(now, len(data)):
            return
        if self.phase is Phase.AUTH:
            return self._bad_input(None, ErrorCode.NOT_AUTHENTICATED, "send hello first")
        try:
            frame = decode_binary(data)
        except WireError as exc:
            return self._bad_input(None, ErrorCode.BAD_FRAME, str(exc))
        if isinstance(frame, AudioFrame):
            self._bad = 0
            self._events.append(AudioChunk(frame=frame))
            return None
        if frame.doc not in DOC_NAMES:
            return self._bad_input(None, ErrorCode.UNKNOWN_DOC, f"no document named {frame.doc!r}", doc=frame.doc[:64])
        try:
            message = ymsg.parse(frame.message)
            if message.kind is ymsg.YKind.AWARENESS:
                ymsg.check_awareness(message.payload)
        except WireError as exc:
            return self._bad_input(None, ErrorCode.BAD_FRAME, str(exc), doc=frame.doc)
        self._bad = 0
        self._events.append(DocMessage(doc=frame.doc, message=message, raw=frame.message))
        return None

    def corrupt_update(self, doc: str, message: str) -> None:
        """The owner found a sync payload that the CRDT engine rejects."""
        self._bad_input(None, ErrorCode.CORRUPT_UPDATE, message, doc=doc)


class ClientProtocol(_Protocol):
    """The device's end of the connection."""

    def __init__(self) -> None:
        super().__init__()
        self._next_id = 1

    def _id(self) -> int:
        id, self._next_id = self._next_id, self._next_id + 1
        return id

    def _send(self, type: str, fields: dict[str, Any], *, with_id: bool = True) -> int:
        id = self._id() if with_id else 0
        msg: dict[str, Any] = {"v": PROTOCOL_VERSION, "type": type}
        if with_id:
            msg["id"] = id
        msg.update(fields)
        self._out.append(dumps(msg))
        return id

    def hello(
        self,
        *,
        token: str | None = None,
        pair_code: str | None = None,
        capabilities: dict[str, Any] | None = None,
        resume_hub_seq: int = 0,
        client: str = "qira-device",
    ) -> int:
        """``capabilities=None`` leaves out the field: the hub keeps the ones it knew."""
        fields: dict[str, Any] = {"token": token} if token else {"pair": {"code": pair_code}}
        if capabilities is not None:
            problem = capabilities_problem(capabilities) or value_problem(capabilities, "capabilities")
            if problem:
                raise ValueError(problem)
            fields["capabilities"] = capabilities
        fields.update(resume={"hub_seq": resume_hub_seq}, client=client)
        return self._send("hello", fields)

    def ping(self) -> int:
        return self._send("ping", {})

    def presence(self, *, active: bool, capabilities: dict[str, Any] | None = None) -> int:
        caps = capabilities or {}
        problem = capabilities_problem(caps) or value_problem(caps, "capabilities")
        if problem:
            raise ValueError(problem)
        return self._send("presence", {"active": active, "capabilities": caps})

    @staticmethod
    def check_operation(type: str, payload: dict[str, Any]) -> None:
        """Raise ValueError unless ``type``/``payload`` can go on the wire as an operation."""
        if type in CONTROL_TYPES or len(type) > _MAX_TYPE_LEN or not _TYPE_RE.fullmatch(type):
            raise ValueError(f"{type!r} is not an application message type")
        bad = RESERVED_KEYS.intersection(payload)
        if bad:
            raise ValueError(f"payload keys {sorted(bad)} are reserved by the envelope")
        problem = value_problem(payload)  # the hub would refuse it with invalid_params
        if problem:
            raise ValueError(problem)

    def operation(self, seq: int, type: str, payload: dict[str, Any]) -> int:
        self.check_operation(type, payload)
        return self._send(type, {"seq": seq, **payload})

    def ack(self, *, hub_seq: int | None = None, op_seq: int | None = None) -> None:
        fields = {k: v for k, v in (("hub_seq", hub_seq), ("op_seq", op_seq)) if v is not None}
        self._send("ack", fields, with_id=False)

    def receive_text(self, text: str) -> None:
        try:
            msg = json.loads(text)
        except ValueError:
            self._events.append(Malformed(reason="hub sent invalid JSON"))
            return
        if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
            self._events.append(Malformed(reason="hub sent a message without a type"))
            return
        type_ = msg["type"]
        if type_ == "result":
            if self.phase is Phase.AUTH:
                self.phase = Phase.OPEN  # the only request before auth is hello
            result = msg.get("result")
            self._events.append(
                Reply(id=msg.get("id"), ok=True, seq=msg.get("seq"), result=result if isinstance(result, dict) else {})
            )
        elif type_ == "error":
            extra = {k: val for k, val in msg.items() if k not in ("v", "id", "type", "seq", "code", "message")}
            self._events.append(
                Reply(
                    id=msg.get("id"),
                    ok=False,
                    seq=msg.get("seq"),
                    code=str(msg.get("code", "")),
                    message=str(msg.get("message", "")),
                    extra=extra,
                )
            )
        else:
            hub_seq = msg.get("hub_seq")
            payload = {k: val for k, val in msg.items() if k not in RESERVED_KEYS}
            self._events.append(HubEvent(type=type_, hub_seq=hub_seq if _is_int(hub_seq) else None, payload=payload))

    def receive_bytes(self, data: bytes) -> None:
        try:
            frame = decode_binary(data)
            if isinstance(frame, AudioFrame):
                self._events.append(AudioChunk(frame=frame))
                return
            self._events.append(DocMessage(doc=frame.doc, message=ymsg.parse(frame.message), raw=frame.message))
        except WireError as exc:
            self._events.append(Malformed(reason=str(exc)))
