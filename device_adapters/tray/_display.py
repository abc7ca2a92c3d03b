"""Is there a display to put a tray icon on? Checked before any toolkit is loaded,
because Qt aborts the whole process (no exception) when it cannot open one."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Mapping

__all__ = ["display_problem"]


def display_problem(env: Mapping[str, str] | None = None) -> str | None:
    """None when a display answers; else why not, in words."""
    env = os.environ if env is None else env
    if sys.platform in ("darwin", "win32"):
        return None
    if env.get("WAYLAND_DISPLAY"):
        return None
    display = env.get("DISPLAY", "")
    if not display:
        return "no display (DISPLAY is not set)"
    host, _, rest = display.rpartition(":")
    number = rest.split(".", 1)[0]
    if not number.isdigit():
        return f"DISPLAY={display!r} is not a display name"
    try:
        if host in ("", "unix"):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(2)
                sock.connect(f"/tmp/.X11-unix/X{number}")
        else:
            with socket.create_connection((host, 6000 + int(number)), timeout=2):
                pass
    except OSError as exc:
        return f"display {display} does not answer ({exc.strerror or exc})"
    return None
