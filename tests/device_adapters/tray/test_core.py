"""The tray's display-free core: state → icon, tooltip, menu and notifications."""

from __future__ import annotations

from dataclasses import replace

import pytest

from device_adapters.tray import (
    Action,
    Command,
    Icon,
    Link,
    TrayState,
    apply_event,
    icon_for,
    menu_for,
    notice_for,
    tooltip_for,
)
from device_adapters.tray._model import with_approvals, with_devices

URL = "http://127.0.0.1:8765/"


def status(state="ready", policy="prefer-local", cloud="ready", components=None):
    return {
        "type": "hub.status",
        "version": "0.1.0",
        "state": state,
        "policy": policy,
        "cloud": cloud,
        "components": {"agent": {"state": "ready", "reason": "9 skills"}, **(components or {})},
    }


def online(**kw) -> TrayState:
    state = apply_event(TrayState(companion_url=URL), {"type": "session.ready", "device_id": "dev_tray"})
    return apply_event(state, status(**kw))


def request(approval="ap1", summary="Forget what I remember about my wifi password"):
    return {
        "type": "approval.request",
        "hub_seq": 9,
        "approval": approval,
        "skill": "forget",
        "summary": summary,
        "risk": "high",
        "expires_at": 4102444800.0,
        "thread": "t",
        "turn": "u",
    }


def labels(items):
    return [i.label for i in items if not i.separator]


def find(items, command_action):
    for item in items:
        if item.command is not None and item.command.action is command_action:
            return item
        found = find(item.children, command_action)
        if found is not None:
            return found
    return None


@pytest.mark.parametrize(
    ("kw", "icon", "words"),
    [
        ({}, Icon.READY, "Qira is ready"),
        (
            {"state": "warming", "components": {"embeddings": {"state": "warming"}}},
            Icon.WARMING,
            "Warming up: embeddings",
        ),
        ({"policy": "local-only"}, Icon.CLOUD_PAUSED, "cloud paused"),
        (
            {"cloud": "error", "state": "error", "components": {"cloud": {"state": "error", "reason": "503"}}},
            Icon.CLOUD_FAILING,
            "cloud is failing",
        ),
        ({"policy": "local-only", "cloud": "error"}, Icon.CLOUD_PAUSED, "cloud paused"),
        (
            {"state": "error", "components": {"memory": {"state": "error", "reason": "disk full"}}},
            Icon.ERROR,
            "memory: disk full",
        ),
    ],
)
def test_each_hub_state_has_its_own_icon_and_words(kw, icon, words):
    state = online(**kw)
    assert icon_for(state).icon is icon
    assert words in tooltip_for(state)


def test_unreachable_and_connecting_and_back():
    state = TrayState(companion_url=URL)
    assert icon_for(state).icon is Icon.UNREACHABLE and "connecting" in tooltip_for(state)
    state = online()
    down = apply_event(state, {"type": "session.disconnected", "code": 1006})
    assert down.link is Link.UNREACHABLE and icon_for(down).icon is Icon.UNREACHABLE
    assert "hub unreachable" in tooltip_for(down) and URL in tooltip_for(down)
    back = apply_event(down, {"type": "session.ready", "device_id": "dev_tray"})
    assert icon_for(back).icon is Icon.READY


def test_a_revoked_tray_stays_stopped_and_says_why():
    state = apply_event(online(), {"type": "session.closed", "code": 4003, "reason": "revoked"})
    assert state.link is Link.STOPPED
    assert apply_event(state, {"type": "session.disconnected"}).link is Link.STOPPED
    assert "revoked" in tooltip_for(state)


def test_colours_differ_between_every_icon():
    looks = {
        icon_for(s).color
        for s in (
            online(),
            online(state="warming"),
            online(policy="local-only"),
            online(cloud="error"),
            TrayState(companion_url=URL),
        )
    }
    assert len(looks) == 5


def test_approvals_add_a_badge_and_a_submenu_with_approve_and_deny():
    state = apply_event(online(), request())
    state = apply_event(state, request("ap2", "Delete the note"))
    state = apply_event(state, request())  # a replay changes nothing
    spec = icon_for(state)
    assert spec.icon is Icon.READY and spec.badge == 2
    assert "2 approvals waiting: Forget what I remember" in tooltip_for(state)
    menu = menu_for(state)
    approvals = next(i for i in menu if i.label.startswith("&Approvals"))
    assert approvals.label == "&Approvals waiting (2)"
    first = approvals.children[0]
    assert first.label.startswith("&1 forget: Forget what I remember about my wifi password")
    assert [c.command for c in first.children] == [
        Command(action=Action.APPROVE, arg="ap1"),
        Command(action=Action.DENY, arg="ap1"),
    ]
    resolved = apply_event(state, {"type": "approval.resolved", "approval": "ap1", "status": "approved"})
    assert [a.id for a in resolved.approvals] == ["ap2"] and icon_for(resolved).badge == 1
    # approval.list after a reconnect is the truth: what was resolved meanwhile is gone
    assert with_approvals(state, [{"approval": "ap2", "skill": "notes", "summary": "x"}]).approvals[0].id == "ap2"
    assert with_approvals(state, [{"no": "id"}]).approvals == ()


def test_no_badge_while_unreachable():
    state = apply_event(apply_event(online(), request()), {"type": "session.disconnected"})
    assert icon_for(state).badge == 0
    assert find(menu_for(state), Action.APPROVE) is None


def test_pause_and_resume_follow_the_policy_and_need_the_hub():
    assert find(menu_for(online()), Action.PAUSE_CLOUD).enabled
    assert find(menu_for(online(policy="local-only")), Action.RESUME_CLOUD).enabled
    offline = apply_event(online(), {"type": "session.disconnected"})
    assert not find(menu_for(offline), Action.PAUSE_CLOUD).enabled
    unknown = replace(online(), status=None)
    assert not find(menu_for(unknown), Action.PAUSE_CLOUD).enabled


def test_devices_with_online_state_and_battery_from_list_and_presence():
    state = with_devices(
        online(),
        [
            {"device": "dev_tray", "name": "tray", "kind": "pc", "online": True, "capabilities": {"battery": None}},
            {
                "device": "dev_w",
                "name": "watch",
                "kind": "wearable",
                "online": False,
                "capabilities": {"battery": 0.42},
            },
            {"device": "dev_p", "name": "phone", "kind": "phone", "online": True, "capabilities": {"battery": 0.8}},
            "not a device",
        ],
    )
    devices = next(i for i in menu_for(state) if i.label.startswith("&Devices"))
    assert devices.label == "&Devices (1 of 2 online)"
    assert labels(devices.children) == [
        "● phone (phone) · online · battery 80%",
        "○ watch (wearable) · offline · battery 42%",
    ]
    state = apply_event(
        state,
        {
            "type": "presence",
            "device": "dev_w",
            "name": "watch",
            "kind": "wearable",
            "online": True,
            "capabilities": {"battery": 0.4},
        },
    )
    devices = next(i for i in menu_for(state) if i.label.startswith("&Devices"))
    assert devices.label == "&Devices (2 of 2 online)" and "battery 40%" in devices.children[1].label
    assert "2 of 2 other devices online" in tooltip_for(state)


def test_start_the_hub_only_when_local_and_unreachable_and_stop_only_what_the_tray_started():
    down = apply_event(online(), {"type": "session.disconnected"})
    assert find(menu_for(down), Action.START_HUB).enabled
    assert find(menu_for(replace(down, hub_local=False)), Action.START_HUB) is None
    assert not find(menu_for(online()), Action.STOP_HUB).enabled
    assert "started elsewhere" in find(menu_for(online()), Action.STOP_HUB).label
    assert find(menu_for(replace(online(), hub_started_here=True)), Action.STOP_HUB).enabled


def test_start_at_login_is_a_check_item_off_by_default():
    item = find(menu_for(online()), Action.AUTOSTART_ON)
    assert item.checked is False and item.label == "Start at &login"
    item = find(menu_for(replace(online(), autostart=True)), Action.AUTOSTART_OFF)
    assert item.checked is True


def test_menu_has_everything_in_order():
    assert labels(menu_for(online())) == [
        "Qira is ready",
        "&Open the companion",
        "Pause the &cloud (local only)",
        "No approvals waiting",
        "No other devices yet",
        "&Pair a new device…",
        "S&top the hub (started elsewhere)",
        "Start at &login",
        "&Quit the tray",
    ]


def test_notices_for_reminders_timers_handoffs_and_approvals():
    reminder = notice_for({"type": "notify", "hub_seq": 5, "title": "Reminder", "text": "stretch", "kind": "reminder"})
    assert (reminder.title, reminder.body, reminder.actions) == ("Reminder", "stretch", ())
    timer = notice_for({"type": "notify", "hub_seq": 6, "text": "tea", "kind": "timer"})
    assert timer.title == "Timer" and timer.urgency == "critical"
    handoff = notice_for(
        {
            "type": "notify",
            "hub_seq": 7,
            "title": "Continue",
            "text": "on the PC",
            "kind": "handoff",
            "data": {"thread": "th1"},
        }
    )
    assert handoff.actions == (("open-companion", "Open"),) and handoff.arg == "th1"
    approval = notice_for(request())
    assert approval.key == "approval:ap1" and approval.arg == "ap1"
    assert approval.actions == (("approve", "Approve"), ("deny", "Deny"))
    assert "tray menu" in approval.fallback
    assert notice_for({"type": "presence"}) is None
    assert notice_for({"type": "approval.request", "approval": 3}) is None


def test_long_summaries_and_ampersands_in_the_menu():
    state = apply_event(online(), request("ap1", "Delete notes about Tom & Jerry " + "x" * 200))
    approvals = next(i for i in menu_for(state) if i.label.startswith("&Approvals"))
    label = approvals.children[0].label
    assert "Tom && Jerry" in label and "…" in label and len(label) < 130
    assert "(until " in label
