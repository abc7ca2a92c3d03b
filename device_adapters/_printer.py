"""How the terminal device shows events: one JSON object per line for programs, or
sentences for a person (names, local times, one reconnect line, causes with fixes)."""

from __future__ import annotations

import asyncio
import json
import shlex
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from .session import OpReply, SessionEvent

__all__ = ["HELP", "Printer"]

HELP = """\
commands:
  TEXT                  ask Qira (continues the current thread)
  /thread               list the threads seen here (the current one is marked *)
  /thread N|ID          continue thread N of that list (or by id), here
  /thread new           start a new thread with the next message
  /approve ID, /deny ID answer an approval request
  /presence             mark this device active and list the person's devices
  /context KIND VALUE   report context, e.g. /context place home
  /audio STREAM FILE    send a file as binary audio frames
  /send TYPE {JSON}     send any protocol operation
  /help                 this list
  /quit                 leave (Ctrl-D too)"""

# Protocol chatter a person does not need to see.
_QUIET = frozenset({"doc.changed", "session.synced", "chat.history", "awareness", "audio", "hub.status"})


@dataclass(kw_only=True)
class _Thread:
    id: str
    when: float
    question: str = ""
    asked_by: str = ""  # a device name


def clock(ts: Any) -> str:
    """A unix time as the person's local time: 14:03, or 2026-05-01 14:03 when not today."""
    try:
        moment = time.localtime(float(ts))
    except (TypeError, ValueError, OverflowError, OSError):
        return "?"
    if time.strftime("%Y-%m-%d", moment) == time.strftime("%Y-%m-%d"):
        return time.strftime("%H:%M", moment)
    return time.strftime("%Y-%m-%d %H:%M", moment)


class Printer:
    def __init__(
        self,
        out: TextIO,
        json_lines: bool,
        *,
        hub: str = "",
        name: str = "",
        kind: str = "",
        pair_code: str | None = None,
    ) -> None:
        self.out = out
        self.json_lines = json_lines
        self.hub, self.name, self.kind, self.pair_code = hub, name, kind, pair_code
        self.thread: str | None = None  # the conversation typed lines continue
        self.threads: dict[str, _Thread] = {}
        self.names: dict[str, str] = {}  # device id -> name
        self.online: dict[str, bool] = {}
        self.device_id: str | None = None
        self.fatal: tuple[int, str] | None = None  # (exit code, the cause in words)
        self.fatal_event = asyncio.Event()
        self.last_failure = ""
        self.silent: set[int] = set()  # seqs of the terminal's own requests: their replies are handled apart
        self.kinds: dict[str, str] = {}  # device id -> kind
        self._mine: set[str] = set()  # turns asked from this terminal
        self._questions: dict[str, str] = {}
        self._streaming: str | None = None  # the turn whose deltas are being printed inline
        self._listing: list[str] = []  # thread ids as last listed, for /thread N
        self._retry_at: float | None = None  # reconnecting: when the next try is
        self._status_shown = False
        self._reason = ""  # why the connection is down
        self._connected_once = False
        self._tty = bool(getattr(out, "isatty", lambda: False)())

    # -- events ------------------------------------------------------------------

    def __call__(self, event: SessionEvent) -> None:
        if "data" in event and isinstance(event["data"], bytes | bytearray):
            event = {k: v for k, v in event.items() if k != "data"}
        kind = event.get("type")
        if kind == "chat.done" and event.get("thread"):
            self._remember_thread(event)
            if self.thread is None and event.get("turn") in self._mine:
                self.thread = event["thread"]  # later lines continue this conversation
        if kind == "presence" and event.get("device"):
            self._presence(event)
        if kind == "reply" and event.get("ok") and isinstance(event.get("result"), Mapping):
            turn = event["result"].get("turn")
            if turn:
                self._mine.add(turn)
        if self.json_lines:
            if kind == "chat.done" and self.thread is None:
                self.thread = event.get("thread")
            self._write(json.dumps(event, ensure_ascii=False, default=str) + "\n")
            self._watch_fatal(event)
            return
        self._human(event)
        self._watch_fatal(event)

    def _human(self, event: SessionEvent) -> None:
        kind = event.get("type")
        if kind == "chat.delta":
            turn = event.get("turn")
            if turn not in self._mine:
                return  # an answer to another device: shown whole, with its question, at chat.done
            if self._streaming != turn:
                self._end_stream()
                self._streaming = turn
                self._write("qira> ")
            self._write(str(event.get("text", "")))
            return
        if kind == "chat.done":
            self._done(event)
            return
        self._end_stream()
        if kind in _QUIET or (kind == "reply" and (event.get("ok") or event.get("seq") in self.silent)):
            return
        if kind == "presence":
            return  # _presence printed the change, if any
        line = self._describe(event)
        if line:
            self.line(line)

    def _done(self, event: SessionEvent) -> None:
        turn = event.get("turn")
        if turn in self._mine:
            if self._streaming == turn:
                self._streaming = None
                self._write("\n")
            else:
                self._end_stream()
                self.line(f"qira> {event.get('text', '')}")
        else:
            self._end_stream()
            who = self._name(event.get("asked_by")) or "another device"
            question = event.get("question") or ""
            number = self._number(event.get("thread"))
            self.line(f"[{who}, {clock(time.time())}] " + (f"asked: {question}" if question else "asked something"))
            self.line(f"qira> {event.get('text', '')}")
            if event.get("thread") != self.thread:
                self.line(f"      (/thread {number} continues that conversation here)")
        reason = event.get("reason") or ""
        if event.get("degraded"):
            self.line(
                "      (the cloud failed mid-answer; the local model finished it" + (f": {reason})" if reason else ")")
            )
        elif event.get("fallback"):
            self.line(f"      (answered locally: {reason})" if reason else "      (answered locally: the cloud failed)")

    def _describe(self, event: SessionEvent) -> str:
        kind = event.get("type")
        if kind == "reply":
            return f"error {event.get('code')}: {event.get('message')}"
        if kind == "error":
            return f"error {event.get('code')}: {event.get('message')}"
        if kind == "notify":
            raw = event.get("data")
            data: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
            line = f"[{event.get('title') or event.get('kind') or 'notice'}] {event.get('text', '')}"
            if event.get("kind") == "handoff" and data.get("thread"):
                self._remember_thread({"thread": data["thread"], "question": event.get("text", "")})
                line += f" — type /thread {self._number(data['thread'])} to continue it here"
            return line
        if kind == "approval.request":
            approval = event.get("approval")
            until = f" (until {clock(event['expires_at'])})" if event.get("expires_at") else ""
            return (
                f"[approval needed] {event.get('summary') or event.get('skill')}{until} "
                f"— type /approve {approval} or /deny {approval}"
            )
        if kind == "approval.resolved":
            by = self._name(event.get("by"))
            return f"[approval {event.get('approval')} {event.get('status')}" + (f" on {by}]" if by else "]")
        if kind == "session.ready":
            return self._ready(event)
        if kind == "session.disconnected":
            self._disconnected(event)
            return ""
        if kind == "session.closed":
            return ""  # _watch_fatal says why, once, on stderr
        if kind == "session.error":
            if event.get("code") in ("auth_failed", "pairing_locked", "revoked", "unsupported_version"):
                return ""  # the close that follows ends the session with the cause
            return f"error {event.get('code')}: {event.get('message')}"
        if kind == "session.thread":
            return f"thread {event.get('thread')}" if event.get("thread") else "the next message starts a new thread"
        fields = " ".join(f"{k}={self._value(k, v)}" for k, v in event.items() if k not in ("type", "hub_seq"))
        return f"[{kind}] {fields}"

    def _value(self, key: str, value: Any) -> str:
        if key in ("device", "by", "asked_by") and isinstance(value, str):
            return repr(self._name(value) or value)
        timestamp = key in ("ts", "at", "when", "last_seen", "last_active") or key.endswith("_at")
        if timestamp and isinstance(value, int | float):
            return clock(value)
        return repr(value)

    # -- connection ------------------------------------------------------------

    def _ready(self, event: SessionEvent) -> str:
        self.device_id = str(event.get("device_id") or "") or None
        if self.device_id:
            self.names[self.device_id] = str(event.get("name") or self.name)
            self.kinds[self.device_id] = str(event.get("kind") or self.kind)
            self.online[self.device_id] = True
        was_down = self._retry_at is not None
        self._retry_at = None
        self._clear_status()
        if self._connected_once and was_down:
            return f"reconnected to {self.hub}"
        self._connected_once = True
        pending = f" ({event['pending']} messages waiting to be delivered)" if event.get("pending") else ""
        return (
            f"connected to {self.hub} as {event.get('name')!r} ({event.get('kind')}){pending}; "
            "type a message, /help for commands"
        )

    def _disconnected(self, event: SessionEvent) -> None:
        reason = event.get("reason") or _close_reason(event.get("code"))
        self.last_failure = reason
        if event.get("error") in ("bad_url", "http_status", "bad_handshake") and not self._connected_once:
            self._set_fatal(3, f"{self.hub}: {reason}")
            return
        first = self._retry_at is None
        self._retry_at = time.monotonic() + float(event.get("retry_in") or 0)
        if self._tty:
            self._show_status(reason)
        elif first:  # one line per outage, not one per try
            self.line(
                f"{'disconnected from' if self._connected_once else 'cannot reach'} {self.hub}: {reason}; reconnecting…"
            )
        self._reason = reason

    def tick(self) -> None:
        """Once a second: the countdown on the reconnect line (on a terminal)."""
        if self._tty and self._retry_at is not None:
            self._show_status(self._reason)

    def _show_status(self, reason: str) -> None:
        assert self._retry_at is not None
        left = max(0, round(self._retry_at - time.monotonic()))
        verb = "disconnected from" if self._connected_once else "cannot reach"
        when = f"retrying in {left}s" if left else "retrying now"
        self.out.write(f"\r\x1b[K{verb} {self.hub}: {reason}; {when}")
        self.out.flush()
        self._status_shown = True

    def _clear_status(self) -> None:
        if self._status_shown:
            self.out.write("\r\x1b[K")
            self.out.flush()
            self._status_shown = False

    def _watch_fatal(self, event: SessionEvent) -> None:
        kind, code = event.get("type"), event.get("code")
        hint = f"qira pair --name {shlex.quote(self.name)} --kind {self.kind}"
        if kind == "session.error" and code == "unsupported_version":
            self._set_fatal(
                7,
                f"the hub and this device speak different protocol versions ({event.get('message')}): "
                "update the older of the two",
            )
        elif kind == "session.error" and code == "pairing_locked":
            self._set_fatal(4, "too many wrong pairing codes from this address: wait a minute, then try a new code")
        elif kind == "session.closed" and code == 4001:
            reason = str(event.get("reason") or "")
            if "no token and no pairing code" in reason:
                self._set_fatal(
                    4,
                    f"this device is not paired yet: run `{hint}` on the hub's machine, then "
                    "start it again with --pair CODE",
                )
            elif self.fatal is None and self.pair_code:
                self._set_fatal(
                    4,
                    f"the hub refused pairing code {self.pair_code}: it is wrong, used or expired "
                    f"(codes work once, for 10 minutes). Get a new one with `{hint}`; if the hub runs "
                    "with --data-dir, pass the same --data-dir to qira pair",
                )
            elif self.fatal is None:
                self._set_fatal(
                    4,
                    "the hub does not know this device's token (another hub, or its data directory "
                    f"was reset): pair it again with `{hint}` and a new --state directory",
                )
        elif kind == "session.closed" and code == 4003:
            self._set_fatal(
                5, f"this device was revoked on the hub: pair it again with `{hint}` and a new --state directory"
            )
        elif kind == "session.closed" and code == 4004:
            self._set_fatal(6, f"another connection of {self.name!r} replaced this one (is it running twice?)")

    def _set_fatal(self, code: int, message: str) -> None:
        if self.fatal is None:
            self.fatal = (code, message)
            self._clear_status()
            self.fatal_event.set()

    # -- threads and devices ---------------------------------------------------

    def asked(self, future: asyncio.Future[OpReply], text: str) -> None:
        """A chat.send from this terminal: its turn is ours (answers stream inline)."""

        def done(f: asyncio.Future[OpReply]) -> None:
            if not f.cancelled() and f.result().ok:
                turn = f.result().result.get("turn")
                if turn:
                    self._mine.add(turn)
                    self._questions[turn] = text

        future.add_done_callback(done)

    def _remember_thread(self, event: Mapping[str, Any]) -> None:
        thread = str(event["thread"])
        entry = self.threads.get(thread) or _Thread(id=thread, when=time.time())
        entry.when = time.time()
        question = event.get("question") or self._questions.get(str(event.get("turn")), "")
        if question:
            entry.question = str(question)
        who = self._name(event.get("asked_by"))
        if who:
            entry.asked_by = who
        self.threads[thread] = entry

    def _number(self, thread: Any) -> int | str:
        ordered = self._ordered()
        return ordered.index(thread) + 1 if thread in ordered else str(thread)

    def _ordered(self) -> list[str]:
        return [t.id for t in sorted(self.threads.values(), key=lambda t: -t.when)]

    def list_threads(self) -> None:
        self._listing = self._ordered()
        if not self._listing:
            self.line("no threads yet: type a message to start one")
            return
        for n, thread in enumerate(self._listing, 1):
            t = self.threads[thread]
            mark = "*" if thread == self.thread else " "
            who = f"{t.asked_by}: " if t.asked_by else ""
            self.line(f"{mark}{n:>2}) {clock(t.when)}  {who}{t.question[:60] or '…'}  [{thread}]")
        self.line("/thread N continues one here; /thread new starts another")

    def choose_thread(self, arg: str | None) -> str | None:
        if arg is None:
            self.thread = None
            self.line("the next message starts a new thread")
            return None
        listing = self._listing or self._ordered()
        thread = listing[int(arg) - 1] if arg.isdigit() and 0 < int(arg) <= len(listing) else arg
        self.thread = thread
        self.line(f"continuing thread {thread}: your next message goes there")
        return thread

    def show_history(self, future: asyncio.Future[OpReply]) -> None:
        def done(f: asyncio.Future[OpReply]) -> None:
            if f.cancelled():
                return
            reply = f.result()
            if not reply.ok:
                self.line(f"error {reply.code}: {reply.message}")
                return
            for message in list(reply.result.get("messages", []))[-2:]:
                who = "you" if message.get("role") == "user" else "qira"
                self.line(f"  {who}: {message.get('content', '')}")

        future.add_done_callback(done)

    def _presence(self, event: SessionEvent) -> None:
        device = str(event["device"])
        if event.get("name"):
            self.names[device] = str(event["name"])
        if event.get("kind"):
            self.kinds[device] = str(event["kind"])
        online = bool(event.get("online"))
        before = self.online.get(device)
        self.online[device] = online
        changed = before != online and (before is not None or online)  # quiet: only comings and goings
        if not self.json_lines and changed and device != self.device_id:
            self.line(
                f"· {self._name(device)} ({event.get('kind')}) is {'online' if online else 'offline'} "
                f"since {clock(time.time())}"
            )

    def show_devices(self, future: asyncio.Future[OpReply] | None) -> None:
        def show(rows: list[Mapping[str, Any]]) -> None:
            for d in rows:
                name = str(d.get("name") or d.get("device"))
                me = " (this device)" if d.get("device") == self.device_id else ""
                seen = (
                    "online"
                    if d.get("online")
                    else f"last seen {clock(d['last_seen'])}"
                    if d.get("last_seen")
                    else "never seen"
                )
                self.line(f"  {name}{me}: {d.get('kind')}, {seen}")

        def known() -> list[Mapping[str, Any]]:
            return [
                {"device": i, "name": n, "kind": self.kinds.get(i, "?"), "online": self.online.get(i, False)}
                for i, n in self.names.items()
            ]

        if future is None:
            self.line("not connected: these are the devices seen so far")
            show(known())
            return

        def done(f: asyncio.Future[OpReply]) -> None:
            if f.cancelled():
                return
            reply = f.result()
            rows = reply.result.get("devices") if reply.ok else None
            if isinstance(rows, list):
                for d in rows:
                    if d.get("device") and d.get("name"):
                        self.names[str(d["device"])] = str(d["name"])
                show(rows)
            else:  # an older hub without devices.list: what presence events told us
                show(known())

        future.add_done_callback(done)

    def help(self) -> None:
        self.line(HELP)

    def _name(self, device: Any) -> str:
        if not device:
            return ""
        return self.names.get(str(device), str(device))

    # -- output ----------------------------------------------------------------

    def line(self, text: str, *, stream: TextIO | None = None) -> None:
        self._end_stream()
        self._clear_status()
        target = stream or self.out
        target.write(text + "\n")
        target.flush()

    def _end_stream(self) -> None:
        if self._streaming is not None:
            self._streaming = None
            self._write("\n")

    def _write(self, text: str) -> None:
        self._clear_status()
        self.out.write(text)
        self.out.flush()


def _close_reason(code: Any) -> str:
    known = {
        1001: "the hub is shutting down",
        1006: "the connection broke",
        1011: "the hub had an internal error",
        4002: "pairing took too long",
        4005: "too many messages",
        4008: "idle too long",
        4009: "reading too slowly",
    }
    return known.get(code, f"connection closed (code {code})" if code else "the connection broke")
