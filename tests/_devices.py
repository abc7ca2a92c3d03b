"""A device as a person runs it: ``qira device run --json`` as a process, its events
read line by line, for the end-to-end tests of every tier."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["DeviceProcess", "Event", "close_all", "pair_devices"]

Event = dict[str, Any]


class DeviceProcess:
    def __init__(
        self,
        hub_ws: str,
        *,
        name: str,
        kind: str,
        state: Path,
        code: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        cmd = [
            sys.executable,
            "-m",
            "qira.cli",
            "device",
            "run",
            "--kind",
            kind,
            "--hub",
            hub_ws,
            "--name",
            name,
            "--state",
            str(state),
            "--json",
        ]
        if code:
            cmd += ["--pair", code]
        self.name = name
        self.events: list[Event] = []
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._ended = False
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line)
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if isinstance(event, dict):
                    self.events.append(event)
                self._cond.notify_all()
        with self._cond:
            self._ended = True  # every line is in: a process that exited has nothing more to say
            self._cond.notify_all()

    def say(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def wait(self, match: Callable[[Event], bool], *, timeout: float = 30.0, after: int = 0) -> Event:
        """The first event (from index ``after``) that matches."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self.events[after:]:
                    if match(event):
                        return event
                left = deadline - time.monotonic()
                if left <= 0 or self._ended:
                    raise AssertionError(
                        f"{self.name}: no matching event in {timeout}s; got:\n" + "".join(self.lines[-40:])
                    )
                self._cond.wait(min(left, 0.2))

    def mark(self) -> int:
        with self._cond:
            return len(self.events)

    def send(self, type_: str, payload: dict[str, Any] | None = None, *, timeout: float = 30.0) -> Event:
        """Send one operation (``/send``) and wait for its reply."""
        start = self.mark()
        self.say(f"/send {type_} {json.dumps(payload or {})}")
        return self.wait(lambda e: e.get("type") == "reply", after=start, timeout=timeout)

    @property
    def device_id(self) -> str:
        """The id the hub gave this device (from its ``session.ready``)."""
        return self.wait(lambda e: e.get("type") == "session.ready")["device_id"]

    def output(self) -> str:
        """Everything the process printed so far (stdout and stderr, merged); all of it
        once the process has exited."""
        with self._cond:
            if self.proc.poll() is not None:
                self._cond.wait_for(lambda: self._ended, timeout=10)
            return "".join(self.lines)

    def ask(self, text: str, *, timeout: float = 30.0) -> Event:
        """Say ``text`` and wait for the answer to that turn (``chat.done``)."""
        start = self.mark()
        self.say(text)
        reply = self.wait(
            lambda e: e.get("type") == "reply" and "turn" in (e.get("result") or {}), after=start, timeout=timeout
        )
        turn = reply["result"]["turn"]
        return self.wait(lambda e: e.get("type") == "chat.done" and e.get("turn") == turn, after=start, timeout=timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.say("/quit")
                self.proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


def pair_devices(hub: Any, kinds: dict[str, str], root: Path) -> dict[str, DeviceProcess]:
    """Pair one device per ``name: kind`` with a live hub, start them and wait until each is
    in session. The caller closes them (:func:`close_all`)."""
    from qira.sync import SyncStore

    store = SyncStore(hub.data_dir / "sync.db")
    try:
        codes = {name: store.create_pairing_code(name, kind, 600) for name, kind in kinds.items()}
    finally:
        store.close()
    devices = {
        name: DeviceProcess(hub.ws_url, name=name, kind=kind, state=root / name, code=codes[name])
        for name, kind in kinds.items()
    }
    try:
        for device in devices.values():
            device.wait(lambda e: e.get("type") == "session.ready", timeout=60)
    except BaseException:
        close_all(devices)
        raise
    return devices


def close_all(devices: dict[str, DeviceProcess]) -> None:
    for device in devices.values():
        device.close()
