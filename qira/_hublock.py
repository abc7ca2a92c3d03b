"""One hub per data directory: an exclusive ``flock`` on ``<data_dir>/hub.lock``.

Two hubs on one directory would each believe they own ``sync.db``: the second one
to stop marks the first one's devices offline for good. The lock is held for the
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
            who = f"pid {holder}" if holder else "another process"
            raise StartupError(f"another qira serve ({who}) is already running on {self.path.parent}") from exc
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


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None
