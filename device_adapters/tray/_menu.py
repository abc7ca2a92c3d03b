"""The tray menu and the desktop notifications, as plain data built from a ``TrayState``.

A backend turns ``MenuItem`` trees into its toolkit's menus and hands the chosen
``Command`` back to the controller; nothing here knows about Qt or D-Bus.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._model import Link, TrayState, describe_device, expires_in, headline

__all__ = ["Action", "Command", "MenuItem", "Notice", "menu_for", "notice_for"]


class Action(enum.Enum):
    OPEN_COMPANION = "open-companion"
    PAUSE_CLOUD = "pause-cloud"
    RESUME_CLOUD = "resume-cloud"
    APPROVE = "approve"
    DENY = "deny"
    PAIR = "pair"
    START_HUB = "start-hub"
    STOP_HUB = "stop-hub"
    AUTOSTART_ON = "autostart-on"
    AUTOSTART_OFF = "autostart-off"
    QUIT = "quit"


@dataclass(frozen=True, kw_only=True)
class Command:
    action: Action
    arg: str = ""  # the approval id for APPROVE / DENY


@dataclass(frozen=True, kw_only=True)
class MenuItem:
    """One entry. ``label`` may hold one ``&`` before the keyboard mnemonic (Qt's and GTK's convention)."""

    label: str = ""
    command: Command | None = None
    enabled: bool = True
    checked: bool | None = None  # None: not a check item
    children: tuple[MenuItem, ...] = ()
    separator: bool = False


_SEP = MenuItem(separator=True)


def _esc(text: str) -> str:
    return text.replace("&", "&&")  # words from the hub are never mnemonics


def menu_for(state: TrayState) -> tuple[MenuItem, ...]:
    online = state.link is Link.ONLINE
    known = online and state.status is not None and state.status.policy != "unknown"
    if state.cloud_paused:
        cloud = MenuItem(label="Resume the &cloud", command=Command(action=Action.RESUME_CLOUD), enabled=known)
    else:
        cloud = MenuItem(
            label="Pause the &cloud (local only)", command=Command(action=Action.PAUSE_CLOUD), enabled=known
        )
    items: list[MenuItem] = [
        MenuItem(label=_esc(headline(state)), enabled=False),
        MenuItem(label="&Open the companion", command=Command(action=Action.OPEN_COMPANION), enabled=online),
        cloud,
        _SEP,
        _approvals(state),
        _devices(state),
        MenuItem(label="&Pair a new device…", command=Command(action=Action.PAIR), enabled=state.hub_local),
        _SEP,
    ]
    if state.hub_local and state.link in (Link.UNREACHABLE, Link.CONNECTING):
        items.append(
            MenuItem(
                label="&Start the hub", command=Command(action=Action.START_HUB), enabled=state.link is Link.UNREACHABLE
            )
        )
    else:
        # Only a hub this tray started has a process the tray may stop; say so rather than hide it.
        label = "S&top the hub" if state.hub_started_here or not online else "S&top the hub (started elsewhere)"
        items.append(
            MenuItem(label=label, command=Command(action=Action.STOP_HUB), enabled=online and state.hub_started_here)
        )
    items.append(
        MenuItem(
            label="Start at &login",
            checked=state.autostart,
            command=Command(action=Action.AUTOSTART_OFF if state.autostart else Action.AUTOSTART_ON),
        )
    )
    items += [_SEP, MenuItem(label="&Quit the tray", command=Command(action=Action.QUIT))]
    return tuple(items)


def _approvals(state: TrayState) -> MenuItem:
    if state.link is not Link.ONLINE or not state.approvals:
        return MenuItem(label="No approvals waiting", enabled=False)
    rows = []
    for i, approval in enumerate(state.approvals):
        mnemonic = f"&{i + 1} " if i < 9 else ""
        left = expires_in(approval)
        summary = approval.summary if len(approval.summary) <= 90 else approval.summary[:89] + "…"
        rows.append(
            MenuItem(
                label=f"{mnemonic}{_esc(approval.skill)}: {_esc(summary)}" + (f" ({left})" if left else ""),
                children=(
                    MenuItem(label="&Approve", command=Command(action=Action.APPROVE, arg=approval.id)),
                    MenuItem(label="&Deny", command=Command(action=Action.DENY, arg=approval.id)),
                ),
            )
        )
    return MenuItem(label=f"&Approvals waiting ({len(state.approvals)})", children=tuple(rows))


def _devices(state: TrayState) -> MenuItem:
    others = [d for d in state.devices if d.id != state.device_id]
    if not others:
        return MenuItem(
            label="No other devices yet" if state.link is Link.ONLINE else "Devices: unknown while offline",
            enabled=False,
        )
    online = sum(d.online for d in others)
    rows = tuple(MenuItem(label=("● " if d.online else "○ ") + _esc(describe_device(d)), enabled=False) for d in others)
    return MenuItem(label=f"&Devices ({online} of {len(others)} online)", children=rows)


@dataclass(frozen=True, kw_only=True)
class Notice:
    """A desktop notification. ``key`` names it so a later event can close it (an approval resolved elsewhere)."""

    key: str
    title: str
    body: str
    actions: tuple[tuple[str, str], ...] = ()  # (action id, label); ids are Action values
    fallback: str = ""  # appended to the body when the server cannot show actions
    urgency: str = "normal"  # low | normal | critical
    arg: str = ""


_TITLES = {"reminder": "Reminder", "timer": "Timer", "handoff": "Continue here", "info": "Qira"}


def notice_for(event: Mapping[str, Any]) -> Notice | None:
    """The notification a hub event deserves, or None (most events only change the icon)."""
    kind = event.get("type")
    if kind == "notify":
        what = str(event.get("kind") or "info")
        title = str(event.get("title") or _TITLES.get(what, "Qira"))
        body = str(event.get("text") or "")
        key = f"notify:{event.get('hub_seq', '')}"
        data = event.get("data")
        if what == "handoff" and isinstance(data, Mapping) and isinstance(data.get("thread"), str):
            return Notice(
                key=key,
                title=title,
                body=body,
                arg=str(data["thread"]),
                actions=((Action.OPEN_COMPANION.value, "Open"),),
            )
        return Notice(key=key, title=title, body=body, urgency="critical" if what == "timer" else "normal")
    if kind == "approval.request":
        approval = event.get("approval")
        if not isinstance(approval, str):
            return None
        summary = str(event.get("summary") or event.get("skill") or "an action")
        return Notice(
            key=f"approval:{approval}",
            title=f"Approve? ({event.get('skill') or 'a skill'})",
            body=summary,
            actions=((Action.APPROVE.value, "Approve"), (Action.DENY.value, "Deny")),
            fallback="Approve or deny it from the Qira tray menu.",
            urgency="critical",
            arg=approval,
        )
    return None
