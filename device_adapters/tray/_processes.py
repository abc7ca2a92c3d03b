"""The hub as a child process of the tray, and ``qira pair`` for pairing codes.

The tray starts ``qira serve`` as a child process, not a systemd user service:
a child process works the same on every desktop (and on macOS and Windows),
needs no service manager (containers, WSL and minimal sessions have none), and
the tray can stop exactly the hub it started. It runs in its own session, so a
tray that crashes or quits leaves the hub serving the person's other devices;
its pid is kept in the tray's state directory so a later tray can stop it. A hub
run any other way (a terminal, a user service) is never touched.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from qira.errors import QiraError

__all__ = ["HubChild", "PairingCode", "create_pairing_code"]


def _qira(*args: str) -> list[str]:
    return [sys.executable, "-m", "qira.cli", *args]


@dataclass(frozen=True, kw_only=True)
class PairingCode:
    code: str
    name: str
    kind: str
    ttl_s: float


def create_pairing_code(name: str, kind: str, config_args: Sequence[str], *, timeout: float = 60.0) -> PairingCode:
    """A one-time code from ``qira pair`` (the documented way to make one; the protocol has no
    operation for it, so this works only on the hub's machine). Blocking: call it off the loop."""
    try:
        out = subprocess.run(
            _qira("pair", "--name", name, "--kind", kind, "--json", *config_args),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise QiraError(f"qira pair did not run: {exc}") from exc
    if out.returncode != 0:
        lines = [line for line in out.stderr.strip().splitlines() if line.strip()]
        message = lines[-1] if lines else f"exit status {out.returncode}"
        raise QiraError(message.removeprefix("qira: error: "))
    try:
        data = json.loads(out.stdout)
        return PairingCode(
            code=str(data["code"]), name=str(data["name"]), kind=str(data["kind"]), ttl_s=float(data.get("ttl_s", 600))
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise QiraError(f"qira pair printed something unexpected: {out.stdout[:200]!r}") from exc


class HubChild:
    """The hub this tray started (if any): start, recognise after a tray restart, stop."""

    def __init__(self, state_dir: Path, serve_args: Sequence[str]) -> None:
        self.pid_file = state_dir / "hub.pid"
        self.log_file = state_dir / "hub.log"
        self.serve_args = list(serve_args)
        self._proc: subprocess.Popen[bytes] | None = None

    def pid(self) -> int | None:
        """The pid of a running hub that this tray (or an earlier run of it) started."""
        if self._proc is not None and self._proc.poll() is not None:
            self._proc = None  # reaped: it stopped
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _is_qira_serve(pid) else None

    def start(self) -> int:
        """Start ``qira serve`` in its own session; its output goes to ``hub.log`` beside the pid file."""
        running = self.pid()
        if running is not None:
            return running
        try:
            self.pid_file.parent.mkdir(parents=True, exist_ok=True)
            with open(self.log_file, "ab") as log:
                self._proc = subprocess.Popen(
                    _qira("serve", *self.serve_args),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            self.pid_file.write_text(str(self._proc.pid))
        except OSError as exc:
            raise QiraError(f"cannot start the hub: {exc}") from exc
        return self._proc.pid

    def stop(self, timeout: float = 20.0) -> bool:
        """SIGTERM the hub this tray started and wait for it to exit (blocking: call it off the loop)."""
        pid = self.pid()
        if pid is None:
            return False
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.pid == pid:
                if self._proc.poll() is not None:
                    break
            elif not _alive(pid):
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        self._proc = None
        return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():  # a zombie (not yet reaped) is not a running hub
        try:
            return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except (OSError, IndexError):
            return True
    return True


def _is_qira_serve(pid: int) -> bool:
    # A pid file can outlive its process and the pid be reused: check it is still our hub.
    if not _alive(pid):
        return False
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return sys.platform != "linux"  # no /proc to check: trust the pid file
    return b"qira.cli" in argv and b"serve" in argv
