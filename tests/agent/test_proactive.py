"""The proactive loop, the choice of device, and the audit log."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest

from qira.agent import Outcome, pick_device, read_audit
from qira.devices import DeviceKind
from skills import reminders
from tests.agent import _skills
from tests.agent._fakes import device

pytestmark = pytest.mark.anyio


def test_pick_device_prefers_the_worn_wearable_then_the_most_recently_active():
    now = time.time()
    pc = device("pc", DeviceKind.PC, active=now - 5)
    phone = device("phone", DeviceKind.PHONE, active=now - 60)
    watch = device("watch", DeviceKind.WEARABLE, active=now - 3600, worn=True)
    loose_watch = device("watch", DeviceKind.WEARABLE, active=now, worn=False)
    assert pick_device([pc, phone, watch]).id == "watch"
    assert pick_device([pc, phone, loose_watch]).id == "pc"  # a watch on the table is not where the person looks
    assert pick_device([device("pc", DeviceKind.PC, online=False, active=now), phone]).id == "phone"
    assert (
        pick_device(
            [
                device("pc", DeviceKind.PC, online=False, active=now),
                device("tab", DeviceKind.TABLET, online=False, active=now - 9),
            ]
        ).id
        == "pc"
    )
    assert pick_device([]) is None


async def test_talking_to_qira_counts_as_activity_for_delivery(make_harness):
    now = time.time()
    h = await make_harness(
        [*_skills.ALL, *reminders.SKILLS],
        devices=[device("phone", DeviceKind.PHONE, active=now), device("pc", DeviceKind.PC, active=now - 300)],
    )
    await h.say("remind me in 1 second to drink water", by="pc")
    note = (await h.gateway.wait_for("notify", "pc", timeout=10))[0]
    assert note == {"title": "Reminder", "text": "drink water", "kind": "reminder"}
    assert not h.gateway.events("notify", "phone")
    delivered = await h.agent.audit.query(skill="proactive")
    assert delivered and delivered[0].device == "pc" and delivered[0].outcome is Outcome.OK


async def test_scheduled_reminders_survive_a_restart(make_harness):
    h = await make_harness([*_skills.ALL, *reminders.SKILLS])
    await h.say("remind me in 2 seconds to stand up")
    await h.restart()
    note = (await h.gateway.wait_for("notify", timeout=10))[0]
    assert note["text"] == "stand up"
    # at least once: a reminder pushed just before the restart, and not yet marked, goes again
    for _ in range(200):
        if not await h.agent.scheduler.pending():
            break
        await asyncio.sleep(0.05)
    assert await h.agent.scheduler.pending() == []


async def test_the_audit_log_is_append_only_and_readable_without_a_hub(make_harness, tmp_path):
    h = await make_harness(_skills.ALL)
    await h.say("say hi to Ana")
    path = h.agent.db.path
    conn = sqlite3.connect(path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE audit SET outcome = 'ok'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM audit")
    conn.close()
    entries = read_audit(path, skill="greet")
    assert entries[0].action == "greet(who='Ana')" and entries[0].device_name == "phone"
    assert read_audit(tmp_path / "missing.sqlite") == []
