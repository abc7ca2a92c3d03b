"""``<data dir>/hub.json``: where a running hub listens, so the CLI finds it.

``qira serve`` writes it once it listens and removes it on a clean stop; a file
whose PID is dead (the hub was killed) is stale and ignored. It holds the
admin secret for the hub-local admin path, so it is readable by its owner
only (mode 0600): whoever can read the data directory may already read every
memory in it, and nobody else may use the admin path.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = [
    "HUB_FILE",
    "HubInfo",
    "hub_urls",
    "new_admin_secret",
    "read_running_hub",
    "remove_hub_file",
    "write_hub_file",
]

HUB_FILE = "hub.json"


@dataclass(frozen=True, kw_only=True)
class HubInfo:
    pid: int
    host: str  # as configured (0.0.0.0 means every interface)
    port: int
    http_url: str  # reachable from this machine
    ws_url: str  # what a device puts in --hub
    version: str
    data_dir: str
    admin_secret: str
    started_at: float

    def as_json(self) -> dict[str, object]:
        return asdict(self)


def hub_urls(host: str, port: int, *, tls: bool = False) -> tuple[str, str]:
    """(the HTTP URL this machine reaches the hub at, the ws:// URL a device should use);
    https:// and wss:// when the hub serves TLS itself."""
    wildcard = host in ("", "0.0.0.0", "::")
    local = ("::1" if ":" in host else "127.0.0.1") if wildcard else host
    device = _lan_address() if wildcard else host

    def fmt(h: str) -> str:
        return f"[{h}]" if ":" in h else h

    http, ws = ("https", "wss") if tls else ("http", "ws")
    return f"{http}://{fmt(local)}:{port}", f"{ws}://{fmt(device)}:{port}/ws"


def _lan_address() -> str:
    """An address other machines can reach this one at (resolved locally, nothing is contacted)."""
    try:
        _, _, addresses = socket.gethostbyname_ex(socket.gethostname())
    except OSError:
        return "127.0.0.1"
    outside = [a for a in addresses if not a.startswith("127.")]
    return outside[0] if outside else "127.0.0.1"


def new_admin_secret() -> str:
    return secrets.token_urlsafe(32)


def write_hub_file(data_dir: Path, info: HubInfo) -> Path:
    path = data_dir / HUB_FILE
    tmp = path.with_name(f".{HUB_FILE}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(info.as_json(), fh, indent=2)
        fh.write("\n")
    os.replace(tmp, path)
    return path


def remove_hub_file(data_dir: Path, pid: int) -> None:
    """Remove the file if it is still ours (a second hub must not delete the first's)."""
    path = data_dir / HUB_FILE
    info = _read(path)
    if info is not None and info.pid == pid:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def read_running_hub(data_dir: Path) -> HubInfo | None:
    """The hub running on ``data_dir``, or ``None`` (no file, unreadable, or its PID is dead)."""
    info = _read(data_dir / HUB_FILE)
    if info is None or not _alive(info.pid):
        return None
    return info


def _read(path: Path) -> HubInfo | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return HubInfo(**{k: data[k] for k in HubInfo.__dataclass_fields__})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # another user's process: our hub runs as us (the file is ours, mode 0600)
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.parent.parent.is_dir() and cmdline.parent.is_dir():
        try:  # a PID reused by an unrelated process after a kill -9
            return b"qira" in cmdline.read_bytes()
        except OSError:
            return True
    return True
