"""The desktop tray app (a ``pc`` device): Qira's state at a glance, its menu, its notifications.

A display-free core (``_model``: state → icon and tooltip; ``_menu``: state →
menu and notifications) is driven by ``TrayController`` (one protocol session,
on its own asyncio loop) and drawn by a thin toolkit backend (``_qt``: Qt's
``QSystemTrayIcon``). Another OS needs only another backend.
"""

from __future__ import annotations

import sys
from typing import TextIO

from ._controller import TrayController, TraySettings
from ._display import display_problem
from ._menu import Action, Command, MenuItem, Notice, menu_for, notice_for
from ._model import Icon, IconSpec, Link, TrayState, apply_event, icon_for, tooltip_for

__all__ = [
    "Action",
    "Command",
    "Icon",
    "IconSpec",
    "Link",
    "MenuItem",
    "Notice",
    "TrayController",
    "TraySettings",
    "TrayState",
    "apply_event",
    "icon_for",
    "menu_for",
    "notice_for",
    "run_tray",
    "tooltip_for",
]

NO_TRAY = 3  # exit status when there is no display or no tray host


def run_tray(settings: TraySettings, *, wait_for_tray_s: float = 5.0, stderr: TextIO = sys.stderr) -> int:
    """Run the tray until Quit; without a display or tray host, one line and exit status 3."""

    def no_tray(reason: str) -> int:
        print(f"no system tray found: open the companion at {settings.companion_url} ({reason})", file=stderr)
        return NO_TRAY

    problem = display_problem()
    if problem is not None:
        return no_tray(problem)
    try:
        from ._qt import run_qt
    except ImportError as exc:  # PySide6 or a system library it loads is missing
        return no_tray(f"the Qt tray backend does not load: {exc}")
    controller = TrayController(settings, publish=lambda state: None)
    status = run_qt(controller, wait_for_tray_s=wait_for_tray_s)
    if status == NO_TRAY:
        return no_tray(f"no tray host answered within {wait_for_tray_s:g} s")
    return status
