"""Checking what callers hand the store, and splitting text that is over the limit."""

from __future__ import annotations

import math
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from ..errors import InvalidMemory
from ._types import Memory, MemoryKind, Scope

__all__ = [
    "check_count",
    "check_device",
    "check_expiry",
    "check_importance",
    "check_kind",
    "check_kinds",
    "check_filters",
    "check_id",
    "new_id",
    "check_scope",
    "check_scopes",
    "check_text",
    "check_time",
    "record_memory",
    "split_text",
    "sql_filters",
]

T = TypeVar("T")


def new_id() -> str:
    return "m_" + uuid.uuid4().hex[:20]


_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+")


def check_text(text: object, *, what: str = "text") -> str:
    if not isinstance(text, str):
        raise InvalidMemory(f"{what} must be a string, not {type(text).__name__}")
    text = text.strip()
    if not text:
        raise InvalidMemory(f"{what} is empty" + (": there is nothing to remember" if what == "text" else ""))
    if "\x00" in text:
        raise InvalidMemory(f"{what} contains a NUL character")
    return text


def check_kind(kind: object) -> MemoryKind:
    try:
        return MemoryKind(kind)  # type: ignore[arg-type]  # any object: a wrong one raises ValueError, reported below
    except ValueError:
        raise InvalidMemory(
            f"unknown kind {kind!r}: expected one of {', '.join(k.value for k in MemoryKind)}"
        ) from None


def check_scope(scope: object) -> Scope:
    try:
        return Scope(scope)  # type: ignore[arg-type]  # any object: a wrong one raises ValueError, reported below
    except ValueError:
        raise InvalidMemory(f"unknown scope {scope!r}: expected one of {', '.join(s.value for s in Scope)}") from None


def _check_many(values: Iterable[object] | None, check: Callable[[object], T], what: str) -> tuple[T, ...] | None:
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, (list, tuple, set, frozenset)):
        raise InvalidMemory(f"{what}s must be a list, not {type(values).__name__}")
    out = tuple(check(v) for v in values)
    if not out:
        raise InvalidMemory(f"{what}s is empty: pass None to search every {what}")
    return out


def check_kinds(kinds: Iterable[object] | None) -> tuple[MemoryKind, ...] | None:
    return _check_many(kinds, check_kind, "kind")


def check_scopes(scopes: Iterable[object] | None) -> tuple[Scope, ...] | None:
    return _check_many(scopes, check_scope, "scope")


def check_importance(importance: object) -> float:
    if isinstance(importance, bool) or not isinstance(importance, (int, float)):
        raise InvalidMemory(f"importance must be a number from 0 to 1, not {importance!r}")
    if not 0.0 <= float(importance) <= 1.0 or math.isnan(importance):
        raise InvalidMemory(f"importance must be from 0 to 1, got {importance}")
    return float(importance)


def check_time(value: object, *, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise InvalidMemory(f"{what} must be a unix time in seconds, not {value!r}")
    return float(value)


def check_expiry(expires_at: object) -> float | None:
    value = check_time(expires_at, what="expires_at")
    if value is not None and value <= time.time():
        raise InvalidMemory(f"expires_at {value} is in the past: the memory would be gone at once")
    return value


def check_count(value: Any, *, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidMemory(f"{what} must be an integer from {low} to {high}, not {value!r}")
    return value


def check_device(device: object) -> str | None:
    if device is None:
        return None
    if not isinstance(device, str) or not device.strip():
        raise InvalidMemory(f"device must be a non-empty string or None, not {device!r}")
    return device


def split_text(text: str, limit: int) -> list[str]:
    """Split at sentence ends, then at spaces, then anywhere, into pieces of at most ``limit``."""
    if len(text) <= limit:
        return [text]
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        sentence = sentence.strip()
        while len(sentence) > limit:
            cut = sentence.rfind(" ", 0, limit + 1)
            cut = cut if cut > limit // 2 else limit
            pieces.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if sentence:
            pieces.append(sentence)
    chunks: list[str] = []
    for piece in pieces:
        if chunks and len(chunks[-1]) + 1 + len(piece) <= limit:
            chunks[-1] = f"{chunks[-1]} {piece}"
        else:
            chunks.append(piece)
    return chunks


def check_id(memory_id: object) -> str:
    if not isinstance(memory_id, str) or not memory_id.strip():
        raise InvalidMemory(f"memory id must be a non-empty string, not {memory_id!r}")
    return memory_id.strip()


def check_filters(
    *,
    kinds: Any = None,
    scopes: Any = None,
    device: Any = None,
    since: Any = None,
    until: Any = None,
    visible_to: Any = None,
) -> dict[str, Any]:
    since, until = check_time(since, what="since"), check_time(until, what="until")
    if since is not None and until is not None and since > until:
        raise InvalidMemory(f"since ({since}) is after until ({until}): the time range is empty")
    return {
        "kinds": check_kinds(kinds),
        "scopes": check_scopes(scopes),
        "device": check_device(device),
        "since": since,
        "until": until,
        "visible_to": check_device(visible_to),
    }


def sql_filters(
    *, kinds: Any, scopes: Any, device: Any, since: Any, until: Any, visible_to: Any
) -> tuple[str, list[Any]]:
    clauses, params = ["(expires_at IS NULL OR expires_at > ?)"], [time.time()]
    if kinds:
        clauses.append(f"kind IN ({','.join('?' * len(kinds))})")
        params += [k.value for k in kinds]
    if scopes:
        clauses.append(f"scope IN ({','.join('?' * len(scopes))})")
        params += [s.value for s in scopes]
    if device is not None:
        clauses.append("device = ?")
        params.append(device)
    if since is not None:
        clauses.append("created_at >= ?")
        params.append(since)
    if until is not None:
        clauses.append("created_at <= ?")
        params.append(until)
    if visible_to is not None:
        clauses.append("(scope = 'shared' OR (scope = 'device' AND device = ?))")
        params.append(visible_to)
    return " AND ".join(clauses), params


def record_memory(record: Mapping[str, Any], line: int, limit: int) -> Memory:
    if not isinstance(record, Mapping):
        raise InvalidMemory(f"record {line}: expected an object, not {type(record).__name__}")
    try:
        text = check_text(record.get("text"))
        if len(text) > limit:
            raise InvalidMemory(f"text is {len(text)} characters, over the {limit} limit")
        created = check_time(record.get("created_at"), what="created_at") or time.time()
        updated = check_time(record.get("updated_at"), what="updated_at") or created
        return Memory(
            id=check_id(record.get("id") or new_id()),
            text=text,
            kind=check_kind(record.get("kind", "fact")),
            scope=check_scope(record.get("scope", "shared")),
            device=check_device(record.get("device")),
            importance=check_importance(record.get("importance", 0.5)),
            created_at=created,
            updated_at=updated,
            expires_at=check_time(record.get("expires_at"), what="expires_at"),
        )
    except InvalidMemory as exc:
        raise InvalidMemory(f"record {line}: {exc}") from None
