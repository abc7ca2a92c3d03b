"""The structure of the five shared documents: the hub's writers and the check that they keep it.

``docs/protocol.md`` ("Shared documents") is the contract; this module is the only
place hub code writes the documents' hub-owned parts, so the two cannot drift.
Every value is a plain JSON value stored as a Yjs ``any`` (never a nested Y type):
a JavaScript client reads ``ymap.get(id)`` as an ordinary object.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from pycrdt import Array, Doc, Map

__all__ = [
    "HUB_ROOTS",
    "MAX_NOTIFICATIONS",
    "check_doc",
    "is_hub_root",
    "mirror_event",
    "mirror_op",
    "record_context",
    "record_notification",
    "record_reminder",
    "record_thread_title",
    "record_turn",
    "set_hub_setting",
]

log = logging.getLogger("qira.sync.docs")

# (document, root name) -> root type. These roots are written by the hub only; a device
# reads them, and changes them only through operations (context.event, settings.set, ...).
HUB_ROOTS: dict[tuple[str, str], type] = {
    ("context", "now"): Map,
    ("threads", "threads"): Map,
    ("notifications", "notifications"): Array,
    ("reminders", "reminders"): Map,
    ("settings", "hub"): Map,
}
# Roots a device may edit directly (any other root name is free for devices, e.g. state.append's arrays).
DEVICE_ROOTS: dict[tuple[str, str], type] = {("notifications", "read"): Map}

MAX_NOTIFICATIONS = 200  # the newest are kept; older ones are deleted
MAX_TEXT = 500  # characters of an answer kept in a thread's summary

CONTEXT_KINDS = ("place", "activity", "focus", "battery", "nearby")
POLICIES = ("local-only", "prefer-local", "prefer-cloud")
HUB_SETTINGS: dict[str, tuple[str, ...]] = {"inference.policy": POLICIES}


def is_hub_root(doc: str, key: str) -> bool:
    """Whether ``key`` is a root of ``doc`` that only the hub writes (or that has a fixed type)."""
    return (doc, key) in HUB_ROOTS or (doc, key) in DEVICE_ROOTS


def record_context(doc: Doc, *, kind: str, value: str, device: str | None, at: float | None = None) -> None:
    with doc.transaction():
        doc.get("now", type=Map)[kind] = {"value": value, "device": device, "at": at or time.time()}


def record_thread_title(doc: Doc, *, thread: str, text: str, device: str | None, at: float | None = None) -> None:
    """A thread's first message names it; later messages do not rename it."""
    threads = doc.get("threads", type=Map)
    if thread in threads:
        return
    now = at or time.time()
    with doc.transaction():
        threads[thread] = {
            "thread": thread,
            "title": " ".join(text.split())[:80],
            "created_at": now,
            "updated_at": now,
            "last_turn": None,
            "last_text": "",
            "route": None,
            "participants": [device] if device else [],
        }


def record_turn(
    doc: Doc,
    *,
    thread: str,
    turn: str,
    text: str,
    route: str,
    device: str,
    question: str = "",
    at: float | None = None,
) -> None:
    """A finished answer (``chat.done``) for ``device``: the thread's summary and participants.
    A thread that was not started by a ``chat.send`` (a spoken one) is named by its question."""
    threads = doc.get("threads", type=Map)
    now = at or time.time()
    old = threads.get(thread)
    entry: dict[str, Any] = (
        dict(old)
        if isinstance(old, Mapping)
        else {"thread": thread, "title": "", "created_at": now, "participants": []}
    )
    if not entry.get("title") and question:
        entry["title"] = " ".join(question.split())[:80]
    participants = [str(p) for p in entry.get("participants") or []]
    if device not in participants:
        participants.append(device)
    entry.update(updated_at=now, last_turn=turn, last_text=text[:MAX_TEXT], route=route, participants=participants)
    with doc.transaction():
        threads[thread] = entry


def record_notification(
    doc: Doc,
    *,
    id: str,
    title: str,
    text: str,
    kind: str,
    device: str,
    data: Mapping[str, Any] | None = None,
    at: float | None = None,
) -> None:
    items = doc.get("notifications", type=Array)
    with doc.transaction():
        items.append(
            {
                "id": id,
                "title": title,
                "text": text,
                "kind": kind,
                "device": device,
                "data": dict(data) if data else None,
                "at": at or time.time(),
            }
        )
        excess = len(items) - MAX_NOTIFICATIONS
        if excess > 0:
            del items[0:excess]


def record_reminder(
    doc: Doc,
    *,
    id: str,
    text: str,
    title: str = "Reminder",
    kind: str = "reminder",
    due_at: float | None,
    trigger: str | None = None,
    status: str = "pending",
    device: str | None = None,
    created_at: float | None = None,
) -> None:
    items = doc.get("reminders", type=Map)
    old = items.get(id)
    created = created_at or (old.get("created_at") if isinstance(old, Mapping) else None) or time.time()
    with doc.transaction():
        items[id] = {
            "id": id,
            "title": title,
            "text": text,
            "kind": kind,
            "due_at": due_at,
            "trigger": trigger,
            "status": status,
            "device": device,
            "created_at": created,
        }


def set_hub_setting(doc: Doc, key: str, value: str) -> None:
    if key not in HUB_SETTINGS or value not in HUB_SETTINGS[key]:
        raise ValueError(f"unknown hub setting {key}={value!r}")
    with doc.transaction():
        doc.get("hub", type=Map)[key] = value


# -- the check ------------------------------------------------------------------------------------

_NUM = (int, float)
_FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "context": {"value": (str,), "device": (str, type(None)), "at": _NUM},
    "threads": {
        "thread": (str,),
        "title": (str,),
        "created_at": _NUM,
        "updated_at": _NUM,
        "last_turn": (str, type(None)),
        "last_text": (str,),
        "route": (str, type(None)),
        "participants": (list,),
    },
    "notifications": {
        "id": (str,),
        "title": (str,),
        "text": (str,),
        "kind": (str,),
        "device": (str,),
        "data": (dict, type(None)),
        "at": _NUM,
    },
    "reminders": {
        "id": (str,),
        "title": (str,),
        "text": (str,),
        "kind": (str,),
        "due_at": (*_NUM, type(None)),
        "trigger": (str, type(None)),
        "status": (str,),
        "device": (str, type(None)),
        "created_at": _NUM,
    },
}


def _entry_problems(where: str, entry: Any, fields: dict[str, tuple[type, ...]]) -> list[str]:
    if not isinstance(entry, dict):
        return [f"{where}: not an object"]
    problems = [f"{where}: missing {k}" for k in fields if k not in entry]
    problems += [
        f"{where}.{k}: {type(entry[k]).__name__}"
        for k, types in fields.items()
        if k in entry and (not isinstance(entry[k], types) or isinstance(entry[k], bool) and bool not in types)
    ]
    return problems


def check_doc(name: str, doc: Doc) -> list[str]:
    """Where ``doc`` (the document ``name``) departs from the documented structure; [] if nowhere."""
    problems: list[str] = []
    roots = set(doc.keys())
    for (doc_name, key), kind in {**HUB_ROOTS, **DEVICE_ROOTS}.items():
        if doc_name != name or key not in roots:
            continue
        root = doc.get(key, type=kind)
        value = root.to_py()
        if name == "context":
            for kind_, entry in (value or {}).items():
                if kind_ not in CONTEXT_KINDS:
                    problems.append(f"context.now: unknown kind {kind_!r}")
                problems += _entry_problems(f"context.now.{kind_}", entry, _FIELDS["context"])
        elif name == "threads":
            for thread, entry in (value or {}).items():
                problems += _entry_problems(f"threads.{thread}", entry, _FIELDS["threads"])
                if isinstance(entry, dict) and entry.get("thread") != thread:
                    problems.append(f"threads.{thread}: thread field differs from its key")
        elif name == "notifications" and key == "notifications":
            for i, entry in enumerate(value or []):
                problems += _entry_problems(f"notifications.notifications[{i}]", entry, _FIELDS["notifications"])
            if len(value or []) > MAX_NOTIFICATIONS:
                problems.append("notifications.notifications: over the limit")
        elif name == "notifications" and key == "read":
            problems += [
                f"notifications.read.{k}: not a number"
                for k, v in (value or {}).items()
                if not isinstance(v, _NUM) or isinstance(v, bool)
            ]
        elif name == "reminders":
            for id_, entry in (value or {}).items():
                problems += _entry_problems(f"reminders.{id_}", entry, _FIELDS["reminders"])
                if isinstance(entry, dict) and entry.get("status") not in ("pending", "delivered", "cancelled"):
                    problems.append(f"reminders.{id_}.status: {entry.get('status')!r}")
        elif name == "settings":
            for k, v in (value or {}).items():
                if k not in HUB_SETTINGS or v not in HUB_SETTINGS[k]:
                    problems.append(f"settings.hub.{k}: {v!r}")
    return problems


# -- what the sync layer records as events and operations pass through it ------------------------


def mirror_event(docs: Mapping[str, Doc], device_id: str, type: str, payload: Mapping[str, Any], hub_seq: int) -> None:
    """A durable event was stored for ``device_id``: keep its summary in the shared documents."""
    try:
        if type == "notify":
            data = payload.get("data")
            record_notification(
                docs["notifications"],
                id=f"n_{hub_seq}",
                title=str(payload.get("title", "")),
                text=str(payload.get("text", "")),
                kind=str(payload.get("kind", "info")),
                device=device_id,
                data=data if isinstance(data, Mapping) else None,
            )
        elif type == "chat.done" and isinstance(payload.get("thread"), str):
            record_turn(
                docs["threads"],
                thread=payload["thread"],
                turn=str(payload.get("turn", "")),
                text=str(payload.get("text", "")),
                route=str(payload.get("route", "local")),
                device=device_id,
                question=str(payload.get("question") or ""),
            )
    except Exception:  # the event itself is delivered; its summary in a document is a convenience
        log.exception("could not record %s in the shared documents", type)


def mirror_op(docs: Mapping[str, Doc], device_id: str, type: str, payload: Mapping[str, Any], body: str) -> None:
    """An operation succeeded (``body`` is its stored result body)."""
    try:
        if type == "context.event":
            record_context(
                docs["context"], kind=str(payload.get("kind")), value=str(payload.get("value")), device=device_id
            )
        elif type == "chat.send":
            result = json.loads("{" + body).get("result", {})
            if isinstance(result.get("thread"), str):
                record_thread_title(
                    docs["threads"], thread=result["thread"], text=str(payload.get("text", "")), device=device_id
                )
    except Exception:
        log.exception("could not record %s in the shared documents", type)
