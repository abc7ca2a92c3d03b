"""Plain terminal mode for any adapter: type text, see what arrives.

Each stdin line is one command: plain text is ``chat.send`` (continuing the
current thread); ``/help`` lists the rest. With ``json_lines`` every event is
printed as exactly one JSON object per line, for programs. For a person, events
read as sentences: device names instead of ids, local times instead of unix
times, the question and the device for answers to turns asked elsewhere, one
reconnect line with a countdown, and one line naming the cause of a failure
(with an exit code, see :data:`EXIT_CODES`).
"""

from __future__ import annotations

import asyncio
import json
import shlex
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from qira.errors import QiraError

from ._printer import HELP, Printer
from ._profiles import PROFILES
from .session import DeviceSession

__all__ = ["EXIT_CODES", "HELP", "check_hub_url", "parse_command", "run_terminal"]

AUDIO_CHUNK_BYTES = 4096
_DRAIN_S = 10.0  # at end of input, how long to wait for the outbox to be acknowledged
_CONNECT_S = 15.0  # at end of input, how long to wait for a first connection

EXIT_CODES = {
    0: "the input ended (or /quit) and everything typed was delivered",
    1: "something else went wrong (the message says what)",
    2: "the --hub URL is not a Qira WebSocket URL (ws://HOST:PORT/ws)",
    3: "no hub answered at that URL",
    4: "the hub refused the pairing code or the device's token",
    5: "the device was revoked",
    6: "another connection of the same device replaced this one",
    7: "the hub and this device speak different protocol versions",
}

# Kept as a name here: tests and older callers import it from this module.
_Printer = Printer


def check_hub_url(url: str) -> str | None:
    """Why ``url`` cannot be a hub's WebSocket URL, or ``None`` when it looks right."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        fixed = ("wss" if parts.scheme == "https" else "ws") + url[len(parts.scheme) :]
        if parts.path in ("", "/"):
            fixed = fixed.rstrip("/") + "/ws"
        return f"{url} is an HTTP URL; devices connect over WebSocket: --hub {fixed}"
    if parts.scheme not in ("ws", "wss") or not parts.netloc:
        return f"{url!r} is not a WebSocket URL: use ws://HOST:PORT/ws (the hub's start-up banner prints it)"
    if parts.path in ("", "/"):
        return f"{url} has no path: the hub's WebSocket is at {url.rstrip('/')}/ws"
    return None


def parse_command(line: str, thread: str | None) -> tuple[str, Any]:
    """One input line -> ("op", (type, payload)) | ("thread", id or None) | ("threads", None) |
    ("presence", None) | ("help", None) | ("audio", (stream, path)) | ("quit", None) |
    ("error", message) | ("noop", None)."""
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
        if not rest:
            return "threads", None  # list them; "/thread new" starts a new one
        return "thread", None if rest == "new" else rest
    if command == "context":
        kind, _, value = rest.partition(" ")
        if not kind or not value.strip():
            return "error", "usage: /context KIND VALUE (e.g. /context place home)"
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
    if command in ("presence", "devices"):
        return "presence", None
    if command in ("help", "?"):
        return "help", None
    if command == "audio":
        stream, _, path = rest.partition(" ")
        if not stream or not path:
            return "error", "usage: /audio STREAM FILE"
        return "audio", (stream, path)
    if command in ("quit", "exit"):
        return "quit", None
    return "error", f"unknown command /{command} (type /help)"


async def run_terminal(
    hub: str,
    *,
    kind: str,
    name: str,
    state_dir: Path,
    pair_code: str | None = None,
    json_lines: bool = False,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
    stderr: TextIO | None = None,
) -> int:
    problem = check_hub_url(hub)
    if problem:
        print(f"qira: {problem}", file=stderr or sys.stderr)
        return 2
    printer = Printer(stdout, json_lines, hub=hub, name=name, kind=kind, pair_code=pair_code)
    session = DeviceSession(
        hub,
        name=name,
        kind=kind,
        state_dir=state_dir,
        capabilities=PROFILES.get(kind, {}),
        pair_code=pair_code,
        on_event=printer,
    )
    session.start()
    loop = asyncio.get_running_loop()
    ticker = asyncio.ensure_future(_tick(printer))
    status = 0
    try:
        finished = asyncio.ensure_future(session.finished.wait())
        fatal = asyncio.ensure_future(printer.fatal_event.wait())
        lines = _stdin_lines(stdin, loop)
        while True:
            reader = asyncio.ensure_future(lines.get())
            await asyncio.wait([reader, finished, fatal], return_when=asyncio.FIRST_COMPLETED)
            if finished.done() or fatal.done():
                reader.cancel()
                status = 1
                break
            line = reader.result()
            if not line:
                break
            if not await _command(line, session, printer):
                break
        if not status:  # end of input: deliver what was typed before leaving
            status = await _drain(session, printer)
    finally:
        ticker.cancel()
        await session.close()
    if printer.fatal is not None:
        code, message = printer.fatal
        printer.line(f"qira: {message}", stream=stderr or sys.stderr)
        return code
    return status


async def _command(line: str, session: DeviceSession, printer: Printer) -> bool:
    """Act on one input line; ``False`` to stop."""
    action, arg = parse_command(line, printer.thread)
    if action == "op":
        try:
            future = session.submit(*arg)
        except ValueError as exc:
            printer({"type": "session.error", "code": "invalid_command", "message": str(exc)})
        else:
            if arg[0] == "chat.send":
                printer.asked(future, arg[1]["text"])
    elif action == "threads":
        printer.list_threads()
    elif action == "thread":
        thread = printer.choose_thread(arg)
        if thread is not None and session.connected:
            printer.silent.add(session.next_seq)  # the reply is shown by show_history
            printer.show_history(session.submit("chat.history", {"thread": thread}))
    elif action == "presence":
        session.presence(active=True)
        if session.connected:
            printer.silent.add(session.next_seq)  # an older hub without devices.list: no error shown
            printer.show_devices(session.submit("devices.list", {}))
        else:
            printer.show_devices(None)
    elif action == "help":
        printer.help()
    elif action == "audio":
        stream, path = arg
        _send_file(session, stream, path, printer)
    elif action == "error":
        printer({"type": "session.error", "code": "invalid_command", "message": arg})
    elif action == "quit":
        return False
    return True


async def _drain(session: DeviceSession, printer: Printer) -> int:
    """At the end of piped input: wait for a first connection, then for the outbox to be acknowledged."""
    deadline = time.monotonic() + _CONNECT_S
    while not session.connected and printer.fatal is None and not session.finished.is_set():
        if time.monotonic() > deadline:
            why = printer.last_failure or "no answer"
            printer.fatal = (3, f"could not reach the hub at {printer.hub}: {why}")
            return 3
        await asyncio.sleep(0.05)
    if printer.fatal is not None or session.finished.is_set():
        return 1
    try:
        await session.wait_idle(_DRAIN_S)
    except (TimeoutError, QiraError):
        return 1 if session.finished.is_set() else 0
    return 0


async def _tick(printer: Printer) -> None:
    while True:
        await asyncio.sleep(1.0)
        printer.tick()


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


def _send_file(session: DeviceSession, stream: str, path: str, printer: Printer) -> None:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        printer({"type": "session.error", "code": "invalid_command", "message": f"/audio: {exc}"})
        return
    for i in range(0, max(len(data), 1), AUDIO_CHUNK_BYTES):
        if not session.send_audio(stream, i // AUDIO_CHUNK_BYTES, data[i : i + AUDIO_CHUNK_BYTES]):
            printer({"type": "session.error", "code": "offline", "message": "not connected: audio dropped"})
            return


def pair_hint(name: str, kind: str) -> str:
    return f"qira pair --name {shlex.quote(name)} --kind {kind}"
