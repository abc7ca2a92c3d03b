"""The phone/tablet companion adapter: a screen and audio, on battery."""

from __future__ import annotations

from ._profiles import PROFILES
from ._terminal import run_terminal

__all__ = ["KIND", "PROFILE", "run_terminal"]

KIND = "tablet"
PROFILE = PROFILES[KIND]
