"""Answers shaped by the asking device's screen: the ``display`` capability
(docs/protocol.md, "The display capability") sets how long the model may answer
and what the system prompt asks for. Pure functions: no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["NARROW_PX", "WIDE_PX", "Shape", "shape_for"]

NARROW_PX = 480  # below: a phone held upright, a watch-sized window
WIDE_PX = 1200  # at or above: a laptop, a desktop window, an unrolled rollable


@dataclass(frozen=True, kw_only=True)
class Shape:
    max_tokens: int | None = None  # None: what the caller asked for (no display known)
    hint: str = ""  # appended to the system prompt; empty: nothing to say


DEFAULT = Shape()


def shape_for(capabilities: Mapping[str, Any]) -> Shape:
    """The answer's shape for a device's capabilities (no usable ``display``: the default)."""
    display = capabilities.get("display")
    width = display.get("width") if isinstance(display, Mapping) else None
    if isinstance(width, bool) or not isinstance(width, int | float) or not 0 < width < 100_000:
        return DEFAULT
    if width < NARROW_PX:
        return Shape(
            max_tokens=96,
            hint=f"The person reads on a narrow screen ({int(width)} px wide): answer in "
            "one or two short sentences, without lists or tables.",
        )
    if width >= WIDE_PX:
        # under cloud_answer_tokens (384): a wide screen alone does not send a turn to the cloud
        return Shape(
            max_tokens=320,
            hint=f"The person reads on a wide screen ({int(width)} px wide): give a "
            "complete answer, with a short list where it helps.",
        )
    return DEFAULT
