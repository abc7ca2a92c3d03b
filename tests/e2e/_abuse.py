"""Clients for hardening tests and the abuse benchmark: a well-behaved device and misbehaving ones,
written from docs/protocol.md with nothing but websockets and json."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from qira.sync import SyncStore
from qira.sync._wire import write_var_string, write_var_uint

QIRA = [sys.executable, "-m", "qira.cli"]


def qira(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*QIRA, *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


class RssWatch:
    """Samples a process's RSS in the background; ``peak`` is the highest seen."""

    def __init__(self, pid: int, every: float = 0.05) -> None:
        self.pid, self.every = pid, every
        self.start = self.peak = rss_bytes(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            with contextlib.suppress(OSError, RuntimeError):
                self.peak = max(self.peak, rss_bytes(self.pid))

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak - self.start


class Client:
    def __init__(self, url: str, **kwargs: Any) -> None:
        self.ws = connect(url, max_size=None, open_timeout=10, **kwargs)
        self.next_id = 1
        self.seq = 0

    def send(self, msg: dict[str, Any]) -> int:
        msg = {"v": 1, "id": self.next_id, **msg}
        self.next_id += 1
        self.ws.send(json.dumps(msg))
        return msg["id"]

    def call(self, msg: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
        id = self.send(msg)
        deadline = time.monotonic() + timeout
        while True:
            frame = self.ws.recv(max(0.01, deadline - time.monotonic()))
            if isinstance(frame, str):
                reply = json.loads(frame)
                if reply.get("id") == id and reply["type"] in ("result", "error"):
                    return reply

    def op(self, type: str, timeout: float = 30.0, **payload: Any) -> dict[str, Any]:
        self.seq += 1
        return self.call({"type": type, "seq": self.seq, **payload}, timeout)

    def events(self, timeout: float) -> list[dict[str, Any]]:
        """Every JSON event (no id) that arrives within ``timeout``."""
        out, deadline = [], time.monotonic() + timeout
        with contextlib.suppress(TimeoutError):
            while (left := deadline - time.monotonic()) > 0:
                frame = self.ws.recv(left)
                if isinstance(frame, str) and "id" not in (msg := json.loads(frame)):
                    out.append(msg)
        return out

    def close_code(self, timeout: float = 30.0) -> int | None:
        """Read until the hub closes the connection; its close code (None: cut without one)."""
        deadline = time.monotonic() + timeout
        with contextlib.suppress(ConnectionClosed):
            while time.monotonic() < deadline:
                with contextlib.suppress(TimeoutError):
                    self.ws.recv(1.0)
        rcvd = self.ws.protocol.close_rcvd
        return rcvd.code if rcvd is not None else None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ws.close()


def pair(url: str, data_dir: Path, name: str, kind: str = "tablet") -> str:
    """Pair a device; returns its token."""
    store = SyncStore(Path(data_dir) / "sync.db")
    try:
        code = store.create_pairing_code(name, kind, 600)
    finally:
        store.close()
    c = Client(url)
    try:
        reply = c.call({"type": "hello", "pair": {"code": code}})
        assert reply["type"] == "result", reply
        return reply["result"]["token"]
    finally:
        c.close()


def device(url: str, token: str, max_queue: int = 16, **hello: Any) -> Client:
    """``max_queue=1``: the client library itself stops reading from the socket as soon as one
    message waits (otherwise it reads ahead into its own queue and the hub sees a reader)."""
    c = Client(url, max_queue=max_queue)
    reply = c.call({"type": "hello", "token": token, **hello})
    assert reply["type"] == "result", reply
    return c


def step1_frame(doc: str) -> bytes:
    """A y-protocols sync step 1 with an empty state vector: "send me the whole document"."""
    return b"\x00" + write_var_string(doc) + write_var_uint(0) + write_var_uint(0) + write_var_uint(1) + b"\x00"
