"""The PC adapter (the desktop tray app's core): full capabilities, plain terminal mode for now."""

from __future__ import annotations

from ._profiles import PROFILES
from ._terminal import run_terminal

__all__ = ["KIND", "PROFILE", "run_terminal"]

KIND = "pc"
PROFILE = PROFILES[KIND]
