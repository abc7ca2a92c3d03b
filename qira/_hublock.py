"""One hub per data directory: an exclusive ``flock`` on ``<data_dir>/hub.lock``.

Two hubs on one directory would each believe they own ``sync.db``: the second one
to stop marks the first one's devices offline for good. ``qira serve`` holds it, and
so do the commands that run the agent in their own process when no hub is running
(``qira ask``, ``qira mcp``). The lock is held for the
hub's whole life (the kernel drops it if the process dies, even with ``kill -9``),
and the file holds the owner's PID so the refusal can name it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from .errors import StartupError

__all__ = ["HubLock"]

LOCK_NAME = "hub.lock"


class HubLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`StartupError` naming the hub that holds it."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StartupError(f"cannot create {self.path}: {exc.strerror or exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _read_pid(fd)
            os.close(fd)
            who = f"{_command(holder)} (pid {holder})" if holder else "qira serve (another process)"
            raise StartupError(f"another {who} is already running on {self.path.parent}") from exc
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            # Truncate before unlocking: a stale PID must not be read as a running hub's.
            try:
                os.ftruncate(self._fd, 0)
            except OSError:
                pass
            os.close(self._fd)  # closing drops the flock
            self._fd = None


def _command(pid: int) -> str:
    """``qira serve``, ``qira ask``, …: what the holder runs, from its command line."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return "qira serve"
    for i, arg in enumerate(args[:-1]):
        if arg == "qira.cli" or arg.endswith("/qira") or arg == "qira":
            if args[i + 1] in ("serve", "ask", "mcp"):
                return f"qira {args[i + 1]}"
    return "qira serve"


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None
