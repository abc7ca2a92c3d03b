"""What a JSON value must be before the hub accepts it: the rules at the protocol's edge.

Everything a device sends ends up somewhere that is stricter than JSON itself: the
wire back to other devices (UTF-8), SQLite (signed 64-bit integers, UTF-8 text),
the CRDT engine (which panics on a lone surrogate or an integer past 64 bits) and
the logs. So text frames are refused here, once, before any of that sees them:

* ``NaN``, ``Infinity`` and numbers that overflow a double are not JSON: ``bad_json``;
* nesting deeper than :data:`MAX_DEPTH`: ``bad_json`` (the parser itself would
  otherwise recurse into a ``RecursionError``);
* a string (key or value) with an unpaired UTF-16 surrogate, or an integer outside
  the signed 64-bit range: the message is refused (``invalid_params``,
  ``bad_envelope`` for envelope fields).
"""

from __future__ import annotations

import json
import math
from typing import Any, TypeGuard

__all__ = [
    "INT_MAX",
    "INT_MIN",
    "MAX_CAPABILITIES",
    "MAX_CAPABILITY_KEY_CHARS",
    "MAX_CAPABILITY_VALUE_BYTES",
    "MAX_DEPTH",
    "BadJson",
    "capabilities_problem",
    "loads",
    "value_problem",
]

MAX_DEPTH = 32  # objects and arrays inside one another, the frame's own object included
INT_MIN, INT_MAX = -(2**63), 2**63 - 1

MAX_CAPABILITIES = 32  # keys a device may report in all
MAX_CAPABILITY_KEY_CHARS = 64
MAX_CAPABILITY_VALUE_BYTES = 256  # an unknown capability's value, as compact JSON

_BOOL_CAPABILITIES = frozenset({"screen", "audio_in", "audio_out", "runs_model", "worn"})


class BadJson(ValueError):
    """A text frame that is not acceptable JSON (becomes ``bad_json``)."""


def _refuse_constant(name: str) -> Any:
    raise BadJson(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 parses to inf
        raise BadJson(f"the number {text[:40]} is out of range")
    return value


def loads(text: str) -> Any:
    """``json.loads`` without the extensions JSON does not have; raises :class:`BadJson`."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite)
    except BadJson:
        raise
    except RecursionError as exc:
        raise BadJson(f"nested deeper than {MAX_DEPTH} levels") from exc
    except ValueError as exc:
        raise BadJson("not valid JSON") from exc
    if _too_deep(value):
        raise BadJson(f"nested deeper than {MAX_DEPTH} levels")
    return value


def _too_deep(value: Any) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _text_problem(text: str) -> str | None:
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "a string holds an unpaired UTF-16 surrogate (not valid Unicode text)"
    return None


def value_problem(value: Any, where: str = "") -> str | None:
    """Why ``value`` cannot be stored and relayed everywhere the hub puts it, or None.

    Checks every string (object keys included) and every integer, iteratively."""
    stack: list[tuple[Any, str]] = [(value, where)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            problem = _text_problem(item)
        elif isinstance(item, bool) or item is None or isinstance(item, float):
            problem = None
        elif isinstance(item, int):
            problem = None if INT_MIN <= item <= INT_MAX else "an integer is outside the signed 64-bit range"
        elif isinstance(item, dict):
            for key, child in item.items():
                problem = _text_problem(key) if isinstance(key, str) else None
                if problem:
                    return f"{path or 'the message'}: a key {problem.removeprefix('a string ')}"
                stack.append((child, f"{path}.{key}" if path else str(key)))
            continue
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{i}]") for i, child in enumerate(item))
            continue
        else:
            problem = f"{type(item).__name__} is not a JSON value"
        if problem:
            return f"{path or 'the message'}: {problem}"
    return None


def _number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _display_problem(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        return '"display" must be an object {"width", "height", "resizable"} or null'
    for key in ("width", "height"):
        size = value.get(key)
        if not _number(size) or not 0 < size <= 100_000:
            return f'"display.{key}" must be a number of CSS pixels, above 0'
    if not isinstance(value.get("resizable", False), bool):
        return '"display.resizable" must be a boolean'
    if len(value) > 8 or len(json.dumps(value)) > MAX_CAPABILITY_VALUE_BYTES:
        return '"display" holds too much'
    return None


def capabilities_problem(caps: dict[str, Any]) -> str | None:
    """Why a ``capabilities`` object (in ``hello`` or ``presence``) is refused, or None.

    Known capabilities must have their documented type; unknown ones are allowed
    (newer devices) within bounds on their number, name and size."""
    if len(caps) > MAX_CAPABILITIES:
        return f"at most {MAX_CAPABILITIES} capabilities"
    for key, value in caps.items():
        if not key or len(key) > MAX_CAPABILITY_KEY_CHARS:
            return f"capability names are 1 to {MAX_CAPABILITY_KEY_CHARS} characters"
        if key in _BOOL_CAPABILITIES:
            if not isinstance(value, bool):
                return f'capability "{key}" must be a boolean'
        elif key == "battery":
            if value is not None and (not _number(value) or not 0 <= value <= 1):
                return 'capability "battery" must be a number from 0 to 1, or null'
        elif key == "display":
            problem = _display_problem(value)
            if problem:
                return problem
        elif len(json.dumps(value, ensure_ascii=False)) > MAX_CAPABILITY_VALUE_BYTES:
            return f'capability "{key}" is over {MAX_CAPABILITY_VALUE_BYTES} bytes'
    return None
