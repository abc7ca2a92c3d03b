"""A real ``qira serve`` subprocess on loopback, for tests and benchmarks."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

LISTENING = re.compile(r"hub listening on https?://([\d.]+):(\d+)")


class HubProcess:
    """Starts ``qira serve`` on 127.0.0.1 with its own data directory.

    The first start picks a free port (``--port 0``); restarts reuse it, so devices
    reconnect to the same URL after a crash."""

    def __init__(self, data_dir: Path, *, env: Mapping[str, str] | None = None, args: list[str] | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", **(env or {})}
        self.args = list(args or [])
        self.port = 0
        self.proc: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self, timeout: float = 20.0) -> HubProcess:
        cmd = [
            sys.executable,
            "-m",
            "qira.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            *self.args,
        ]
        self.output = []
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=self.env)
        found = threading.Event()

        def pump() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                self.output.append(line)
                match = LISTENING.search(line)
                if match and not found.is_set():
                    self.port = int(match.group(2))
                    found.set()

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not found.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("qira serve did not start:\n" + "".join(self.output))
        self.wait_health(deadline - time.monotonic())
        return self

    def health(self) -> dict:
        return httpx.get(self.http_url + "/health", timeout=2).json()

    def wait_health(self, timeout: float = 20.0, *, ready: bool = False) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            try:
                body = self.health()
                if not ready or body.get("ready"):
                    return body
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("hub not healthy in time:\n" + "".join(self.output))
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def kill(self) -> int:
        return self.stop(signal.SIGKILL)

    def restart(self) -> HubProcess:
        self.stop()
        return self.start()
