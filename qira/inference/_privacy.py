"""Personal data detection lives in :mod:`qira.privacy`; re-exported here for the router and old callers."""

from __future__ import annotations

from ..privacy import PersonalData, detect_personal_data

__all__ = ["PersonalData", "detect_personal_data"]
