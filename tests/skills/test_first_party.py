"""Each first-party skill through the SDK's FakeHost, as a third party would test theirs."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from qira.devices import DeviceInfo, DeviceKind
from qira.errors import PermissionDenied
from qira.sdk.testing import FakeHost
from skills import chat, clock, devices, handoff, memory, notes, reminders, system, translate


def dev(id: str, kind: DeviceKind, *, online: bool = True, **caps) -> DeviceInfo:
    return DeviceInfo(
        id=id, name=id, kind=kind, online=online, last_seen=time.time(), last_active=time.time(), capabilities=caps
    )


def test_remember_recall_forget():
    host = FakeHost()
    assert "remember: my sister is Ana" in host.call(memory.remember, text="my sister is Ana").text
    host.call(memory.remember, text="I park on level 3")
    assert host.call(memory.recall, topic="sister").text == "Your sister is Ana."  # no echo of the question
    assert host.call(memory.recall, topic="volcanoes").text.startswith("I don't know that yet")
    out = host.call(memory.forget, topic="sister")
    assert out.text.startswith("Forgotten (1 memory)") and [m.text for m in host.memories_list] == ["I park on level 3"]
    assert (
        memory.forget.risk.needs_approval and memory.forget.describe({"topic": "x"}) == "Forget what I remember about x"
    )


def test_remember_keeps_personal_data_private_even_when_the_slot_hides_it():
    # the slot is a mangled copy the detector would miss; the person's message is judged too
    host = FakeHost()
    out = host.call(memory.remember, text="wifi hunter2", utterance="remember my wifi password is hunter2")
    assert "privately" in out.text and [m.scope.value for m in host.memories_list] == ["private"]
    host = FakeHost()
    out = host.call(memory.remember, text="I park on level 3", utterance="remember that I park on level 3")
    assert "privately" not in out.text
    assert [m.scope.value for m in host.memories_list] == ["shared"]


def test_notes_are_kept_in_the_skills_own_storage():
    host = FakeHost()
    host.call(notes.note_add, text="buy coffee")
    host.call(notes.note_add, text="call Rui")
    assert host.call(notes.notes_list).text == "Your notes:\n1. buy coffee\n2. call Rui"
    assert FakeHost().call(notes.notes_list).text == "You have no notes yet."


@pytest.mark.parametrize(
    ("when", "seconds"),
    [
        ("2 seconds", 2),
        ("in 10 minutes", 600),
        ("an hour", 3600),
        ("1 hour 30 minutes", 5400),
        ("half an hour", 1800),
        ("90s", 90),
        ("five minutes", 300),
    ],
)
def test_delays_are_understood(when, seconds):
    assert reminders.parse_delay(when) == seconds


def test_clock_times_and_places():
    now = datetime(2026, 5, 1, 16, 0).astimezone()
    assert reminders.parse_clock("5pm", now).hour == 17
    assert reminders.parse_clock("at 9:30", now).day == 2  # already past today
    assert reminders.parse_place("I get home") == "home"
    assert reminders.parse_place("I get to the store") == "store"
    assert reminders.parse_delay("whenever") is None


def test_remind_schedules_by_delay_time_or_place():
    host = FakeHost()
    said = host.call(reminders.remind, text="stretch", when="2 seconds").text
    assert "remind you to stretch in 2 seconds" in said and "your pc" in said  # and which device
    assert abs(host.scheduled_list[0].due_at - time.time() - 2) < 1
    host.call(reminders.remind, text="buy milk", when="I get to the store")
    assert host.scheduled_list[1].on_context == ("place", "store")
    assert "didn't understand" in host.call(reminders.remind, text="x", when="someday").text
    assert "Timer set for 5 minutes" in host.call(reminders.timer, duration="5 minutes").text
    assert host.scheduled_list[-1].text == "Your 5-minute timer is done."
    listing = host.call(reminders.reminders_list).text
    assert "stretch" in listing and "when you get to the store" in listing
    with pytest.raises(PermissionDenied):
        host.call(reminders.remind, text="x", when="1 minute", grants=[])


def test_handoff_sends_the_last_answer_to_the_named_device():
    host = FakeHost(devices_list=[dev("p1", DeviceKind.PHONE), dev("t1", DeviceKind.TABLET, online=False)])
    reply = host.call(
        handoff.handoff,
        device="tablet",
        history=[{"role": "user", "content": "recipe?"}, {"role": "assistant", "content": "Flour, eggs."}],
    )
    assert reply.text.startswith("Sent to your t1.") and "offline" in reply.text
    named = FakeHost(devices_list=[dev("my-watch", DeviceKind.WEARABLE)]).call(handoff.handoff, device="watch")
    assert named.text.startswith("Sent to my-watch.")
    sent = host.notifications[0]
    assert (sent.device, sent.kind, sent.text, sent.data) == (
        "t1",
        "handoff",
        "Flour, eggs.",
        {"thread": "test-thread"},
    )
    assert "couldn't find your fridge" in host.call(handoff.handoff, device="fridge").text


def test_devices_and_battery():
    host = FakeHost(
        devices_list=[
            dev("phone", DeviceKind.PHONE, battery=0.42),
            dev("watch", DeviceKind.WEARABLE, worn=True, battery=0.9, online=False),
        ]
    )
    listing = host.call(devices.devices_where).text
    assert "phone (phone): online" in listing and "watch (wearable): offline" in listing and "worn" in listing
    assert host.call(devices.battery, device="phone").text == "- phone: battery 42%"
    assert "watch: battery 90% (offline, last known)" in host.call(devices.battery).text


def test_translate_en_pt_runs_locally():
    host = FakeHost()
    out = host.call(translate.translate, text="Good morning", language="portuguese")
    assert out.text.lower().startswith("bom dia")
    assert host.prompts == []  # no model was asked
    back = host.call(translate.translate, text="Obrigado", language="english")
    assert "thank" in back.text.lower()


def test_translate_other_languages_goes_to_the_cloud_model_with_network_permission():
    host = FakeHost(model=lambda prompt: "Buenos días")
    assert host.call(translate.translate, text="Good morning", language="spanish").text == "Buenos días"
    assert "Translate into spanish" in host.prompts[0]
    with pytest.raises(PermissionDenied, match="network"):
        host.call(translate.translate, text="Good morning", language="spanish", grants=[])


def test_time_date_system_and_small_talk():
    host = FakeHost(model=lambda prompt: "Hi! How can I help?")
    assert host.call(clock.time_now).text.startswith("It's ")
    assert host.call(clock.date_today).text.startswith("Today is ")
    assert host.call(system.system_info).text.startswith("this machine runs TestOS on 2 CPUs")
    with pytest.raises(PermissionDenied):
        host.call(system.system_info, grants=[])
    assert host.call(chat.small_talk, utterance="hello").text == "Hi! How can I help?"


def test_remind_splits_at_the_last_time_phrase_when_the_pattern_split_too_early():
    host = FakeHost()
    said = "remind me to check in with Bob in 5 minutes"
    out = host.call(reminders.remind, utterance=said, text="check", when="with Bob in 5 minutes")
    assert "remind you to check in with Bob in 5 minutes" in out.text
    out = host.call(
        reminders.remind, utterance="remind me to look at the stars at 9pm", text="look", when="the stars at 9pm"
    )
    assert "look at the stars" in out.text and "at 21:00" in out.text


@pytest.mark.parametrize(
    ("said", "weekday", "hour", "minute"),
    [
        ("tomorrow at 9", None, 9, 0),
        ("next Friday at noon", 4, 12, 0),
        ("Thursday at 3pm", 3, 15, 0),
        ("Monday morning", 0, 9, 0),
        ("on Sunday", 6, 9, 0),
        ("at 17:30", None, 17, 30),
    ],
)
def test_reminder_times_in_words(said, weekday, hour, minute):
    now = datetime(2026, 12, 1, 10, 0).astimezone()  # a Tuesday
    at = reminders.parse_time(said, now)
    assert at is not None and at > now and (at.hour, at.minute) == (hour, minute)
    if weekday is not None:
        assert at.weekday() == weekday
    if said.startswith("tomorrow"):
        assert at.date() == datetime(2026, 12, 2).date()
    assert reminders.parse_time("someday maybe", now) is None


def test_a_time_zone_is_converted_to_the_hubs():
    now = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    at = reminders.parse_time("at 5pm EST", now)
    assert at is not None and at.astimezone(UTC).hour == 22


def test_remind_tomorrow_says_when_and_on_which_device():
    host = FakeHost()
    out = host.call(
        reminders.remind,
        utterance="remind me tomorrow at 9 to call the school",
        text="call the school",
        when="tomorrow at 9",
    ).text
    assert "call the school tomorrow at 09:00" in out and "device" in out and "your pc" in out
    due = datetime.fromtimestamp(host.scheduled_list[0].due_at)
    assert (due.hour, due.minute) == (9, 0)


def test_remind_without_slots_finds_the_time_in_the_words():
    host = FakeHost()
    out = host.call(reminders.remind, utterance="create a reminder: dentist appointment on Thursday at 3pm").text
    assert "dentist appointment" in out and "15:00" in out
    assert datetime.fromtimestamp(host.scheduled_list[0].due_at).hour == 15


def test_words_helper():
    from qira.sdk.words import arrival, clip, plural, your

    assert (plural(1, "note"), plural(3, "note"), plural(2, "memory"), plural(0, "battery")) == (
        "1 note",
        "3 notes",
        "2 memories",
        "0 batteries",
    )
    assert (your("phone"), your("my-watch"), your("Ana's tablet")) == ("your phone", "my-watch", "Ana's tablet")
    assert (arrival("home"), arrival("work"), arrival("store"), arrival("the office")) == (
        "when you get home",
        "when you get to work",
        "when you get to the store",
        "when you get to the office",
    )
    text = "The tide rises twice a day. The moon pulls the water toward it, and the earth turns beneath."
    assert clip(text, 40) == "The tide rises twice a day."
    cut = clip("supercalifragilistic words everywhere around here", 30)
    assert cut.endswith("…") and not cut[:-1].endswith(("w", "e", "a")) or cut == "supercalifragilistic words…"
    assert clip("short", 30) == "short"
