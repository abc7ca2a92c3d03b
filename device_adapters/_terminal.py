"""Plain terminal mode for any adapter: type text, see what arrives.

Each stdin line is one command: plain text is ``chat.send`` (continuing the
conversation of the first answer, or the one chosen with ``/thread``); ``/approve ID``,
``/deny ID``, ``/thread ID``, ``/context KIND VALUE``, ``/presence``,
``/audio STREAM FILE``, ``/send TYPE JSON`` and ``/quit``. With ``json_lines``
every event is printed as exactly one JSON object per line.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

from qira.errors import QiraError

from ._profiles import PROFILES
from .session import DeviceSession, SessionEvent

__all__ = ["run_terminal", "parse_command"]

AUDIO_CHUNK_BYTES = 4096
_DRAIN_S = 10.0  # at end of input, how long to wait for the outbox to be acknowledged


def parse_command(line: str, thread: str | None) -> tuple[str, Any]:
    """One input line -> ("op", (type, payload)) | ("thread", id) | ("presence", None) |
    ("audio", (stream, path)) | ("quit", None) | ("error", message) | ("noop", None)."""
    line = line.rstrip("\r\n")
    if not line.strip():
        return "noop", None
    if not line.startswith("/"):
        payload: dict[str, Any] = {"text": line}
        if thread:
            payload["thread"] = thread
        return "op", ("chat.send", payload)
    command, _, rest = line[1:].partition(" ")
    rest = rest.strip()
    if command in ("approve", "deny"):
        if not rest:
            return "error", f"usage: /{command} APPROVAL_ID"
        return "op", ("approval.respond", {"approval": rest, "approve": command == "approve"})
    if command == "thread":
        return ("thread", rest or None)
    if command == "context":
        kind, _, value = rest.partition(" ")
        if not kind:
            return "error", "usage: /context KIND VALUE"
        return "op", ("context.event", {"kind": kind, "value": value})
    if command == "send":
        type_, _, raw = rest.partition(" ")
        try:
            payload = json.loads(raw) if raw.strip() else {}
        except ValueError as exc:
            return "error", f"/send: payload is not JSON: {exc}"
        if not type_ or not isinstance(payload, dict):
            return "error", "usage: /send TYPE {JSON object}"
        return "op", (type_, payload)
    if command == "presence":
        return "presence", None
    if command == "audio":
        stream, _, path = rest.partition(" ")
        if not stream or not path:
            return "error", "usage: /audio STREAM FILE"
        return "audio", (stream, path)
    if command == "quit":
        return "quit", None
    return "error", f"unknown command /{command}"


class _Printer:
    """Prints events: one JSON object per line for programs, or readable lines for a
    person (answers stream inline, protocol chatter stays quiet)."""

    _QUIET = frozenset({"doc.changed", "session.synced", "chat.history"})

    def __init__(self, out: TextIO, json_lines: bool) -> None:
        self.out = out
        self.json_lines = json_lines
        self.thread: str | None = None  # the conversation typed lines continue
        self._streaming: str | None = None  # the turn whose deltas are being printed inline

    def __call__(self, event: SessionEvent) -> None:
        if "data" in event and isinstance(event["data"], bytes | bytearray):
            event = {k: v for k, v in event.items() if k != "data"}
        if event.get("type") == "chat.done" and self.thread is None:
            self.thread = event.get("thread")  # later lines continue this conversation
        if self.json_lines:
            self._write(json.dumps(event, ensure_ascii=False, default=str) + "\n")
        else:
            self._human(event)

    def _human(self, event: SessionEvent) -> None:
        kind = event.get("type")
        if kind == "chat.delta":
            if self._streaming != event.get("turn"):
                self._end_stream()
                self._streaming = event.get("turn")
                self._write("qira> ")
            self._write(str(event.get("text", "")))
            return
        if kind == "chat.done":
            if self._streaming == event.get("turn"):
                self._streaming = None
                self._write("\n")
            else:
                self._end_stream()
                self._write(f"qira> {event.get('text', '')}\n")
            if event.get("degraded"):
                self._write("      (the cloud failed mid-answer; the local model finished it)\n")
            return
        self._end_stream()
        if kind in self._QUIET or (kind == "reply" and event.get("ok")):
            return
        if kind == "reply":
            line = f"error {event.get('code')}: {event.get('message')}"
        elif kind == "notify":
            line = f"[{event.get('title') or event.get('kind') or 'notice'}] {event.get('text', '')}"
        elif kind == "approval.request":
            approval = event.get("approval")
            line = (f"[approval needed] {event.get('summary') or event.get('skill')} "
                    f"— type /approve {approval} or /deny {approval}")
        elif kind == "session.ready":
            line = f"connected as {event.get('name')} ({event.get('kind')}); type a message, /quit to leave"
        else:
            fields = " ".join(f"{k}={v!r}" for k, v in event.items() if k != "type")
            line = f"[{kind}] {fields}"
        self._write(line + "\n")

    def _end_stream(self) -> None:
        if self._streaming is not None:
            self._streaming = None
            self._write("\n")

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()


async def run_terminal(hub: str, *, kind: str, name: str, state_dir: Path, pair_code: str | None = None,
                       json_lines: bool = False, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    printer = _Printer(stdout, json_lines)
    session = DeviceSession(hub, name=name, kind=kind, state_dir=state_dir, capabilities=PROFILES.get(kind, {}),
                            pair_code=pair_code, on_event=printer)
    session.start()
    loop = asyncio.get_running_loop()
    status = 0
    try:
        finished = asyncio.ensure_future(session.finished.wait())
        lines = _stdin_lines(stdin, loop)
        while True:
            reader = asyncio.ensure_future(lines.get())
            await asyncio.wait([reader, finished], return_when=asyncio.FIRST_COMPLETED)
            if finished.done():
                reader.cancel()
                status = 1
                break
            line = reader.result()
            if not line:
                break
            action, arg = parse_command(line, printer.thread)
            if action == "op":
                try:
                    session.submit(*arg)
                except ValueError as exc:
                    printer({"type": "session.error", "code": "invalid_command", "message": str(exc)})
            elif action == "thread":
                printer.thread = arg
                printer({"type": "session.thread", "thread": arg})
            elif action == "presence":
                session.presence(active=True)
            elif action == "audio":
                _send_file(session, *arg, printer)
            elif action == "error":
                printer({"type": "session.error", "code": "invalid_command", "message": arg})
            elif action == "quit":
                break
        # End of input: give the outbox a moment so piped commands are delivered.
        if not status:
            try:
                await session.wait_idle(_DRAIN_S)
            except (TimeoutError, QiraError):
                status = 1 if session.finished.is_set() else 0
    finally:
        await session.close()
    return status


def _stdin_lines(stdin: TextIO, loop: asyncio.AbstractEventLoop) -> asyncio.Queue[str]:
    # A daemon thread, not the default executor: a blocked readline must not keep
    # the process alive once the session has ended (revoked, say).
    queue: asyncio.Queue[str] = asyncio.Queue()

    def pump() -> None:
        while True:
            line = stdin.readline()
            loop.call_soon_threadsafe(queue.put_nowait, line)
            if not line:
                return

    threading.Thread(target=pump, name="qira-stdin", daemon=True).start()
    return queue


def _send_file(session: DeviceSession, stream: str, path: str, printer: _Printer) -> None:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        printer({"type": "session.error", "code": "invalid_command", "message": f"/audio: {exc}"})
        return
    for i in range(0, max(len(data), 1), AUDIO_CHUNK_BYTES):
        if not session.send_audio(stream, i // AUDIO_CHUNK_BYTES, data[i:i + AUDIO_CHUNK_BYTES]):
            printer({"type": "session.error", "code": "offline", "message": "not connected: audio dropped"})
            return
