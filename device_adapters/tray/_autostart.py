"""Start at login through an XDG autostart entry (freedesktop "Desktop Application Autostart").

Off by default: nothing is written until the person turns it on, and turning it
off deletes the file, so no stale entry is left behind to start the tray again.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from qira.errors import QiraError

__all__ = ["ENTRY_NAME", "autostart_enabled", "desktop_entry", "disable_autostart", "enable_autostart"]

ENTRY_NAME = "qira-tray.desktop"


def _quote(arg: str) -> str:
    # Desktop Entry Exec quoting: reserved characters force double quotes, inside which
    # ", `, $ and \ are escaped; a literal % is written %%.
    arg = arg.replace("%", "%%")
    if arg and not any(c in arg for c in " \t\n\"'\\><~|&;$*?#()`"):
        return arg
    return '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'


def desktop_entry(argv: Sequence[str]) -> str:
    return "\n".join(
        [
            "[Desktop Entry]",
            "Type=Application",
            "Name=Qira tray",
            "Comment=Qira's status, approvals and notifications in the system tray",
            "Exec=" + " ".join(_quote(a) for a in argv),
            "Terminal=false",
            "X-GNOME-Autostart-enabled=true",
            "",
        ]
    )


def autostart_enabled(autostart_dir: Path) -> bool:
    path = autostart_dir / ENTRY_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return False
    # Desktop environments turn an entry off by adding Hidden=true rather than deleting it.
    return not any(
        line.strip().lower() in ("hidden=true", "x-gnome-autostart-enabled=false") for line in text.splitlines()
    )


def enable_autostart(autostart_dir: Path, argv: Sequence[str]) -> Path:
    path = autostart_dir / ENTRY_NAME
    try:
        autostart_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(desktop_entry(argv), encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise QiraError(f"cannot write the autostart entry {path}: {exc}") from exc
    return path


def disable_autostart(autostart_dir: Path) -> None:
    try:
        (autostart_dir / ENTRY_NAME).unlink(missing_ok=True)
    except OSError as exc:
        raise QiraError(f"cannot remove the autostart entry in {autostart_dir}: {exc}") from exc
