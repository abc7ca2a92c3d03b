"""The shared documents' structure (docs/protocol.md, "Shared documents"): the hub's writers
keep it, as the hub holds the documents and as a device's replica receives them."""

from __future__ import annotations

import asyncio

import pytest
from pycrdt import Array, Map

from device_adapters import DeviceSession
from qira.devices import DeviceInfo
from qira.sync import DOC_NAMES
from qira.sync._schema import HUB_ROOTS, MAX_NOTIFICATIONS, check_doc, record_reminder, set_hub_setting

from ._support import inproc_hub, pair_code

pytestmark = pytest.mark.anyio


async def until(predicate, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_the_hubs_writers_follow_the_documented_schema(tmp_path):
    async def chat_send(device: DeviceInfo, payload):
        return {"thread": payload.get("thread") or "3f9c0a1b2c4d", "turn": "a81b00000001"}

    async def context_event(device: DeviceInfo, payload):
        return {"id": "m_1", "action": "added"}

    async with inproc_hub(tmp_path) as (server, url):
        server.register_handler("chat.send", chat_send)
        server.register_handler("context.event", context_event)
        session = DeviceSession(
            url, name="tab", kind="tablet", state_dir=tmp_path / "tab", pair_code=pair_code(tmp_path, "tab")
        )
        session.start()
        await session.wait_synced()
        me = session.device_id
        # every writer the hub has: operations a device sends, and events hub code pushes
        await session.request("chat.send", {"text": "Plan my   trip to Lisbon in May"})
        await session.request("chat.send", {"text": "and the hotel?", "thread": "3f9c0a1b2c4d"})
        await session.request("context.event", {"kind": "place", "value": "the office"})
        await session.request("state.append", {"doc": "reminders", "key": "notes", "value": {"text": "free key"}})
        await server.push(
            me,
            "chat.done",
            {
                "thread": "3f9c0a1b2c4d",
                "turn": "a81b00000001",
                "text": "Lisbon: …",
                "route": "local",
                "degraded": False,
            },
        )
        for i in range(MAX_NOTIFICATIONS + 5):
            await server.push(me, "notify", {"title": "Reminder", "text": f"stretch {i}", "kind": "reminder"})
        await server.push(
            me,
            "notify",
            {"title": "Handoff", "text": "continue", "kind": "handoff", "data": {"thread": "3f9c0a1b2c4d"}},
        )
        async with server.edit("settings") as doc:
            set_hub_setting(doc, "inference.policy", "local-only")
        async with server.edit("reminders") as doc:
            record_reminder(doc, id="r_1", text="buy milk", due_at=None, trigger="place=store", device=me)
        # what the agent's scheduler calls (through the gateway) when a reminder is made and delivered
        await server.record_reminder(
            id="r_2",
            title="Reminder",
            text="stretch",
            kind="reminder",
            due_at=1.79e9,
            trigger=None,
            status="pending",
            device=None,
        )
        await server.record_reminder(
            id="r_2",
            title="Reminder",
            text="stretch",
            kind="reminder",
            due_at=1.79e9,
            trigger=None,
            status="delivered",
            device=None,
        )
        # a device marks a notification read: the one root it edits directly
        session.docs["notifications"].get("read", type=Map)["n_1"] = 1790000000.0

        await until(
            lambda: (
                session.docs["settings"].get("hub", type=Map).get("inference.policy") == "local-only"
                and "r_1" in session.docs["reminders"].get("reminders", type=Map)
                and len(session.docs["notifications"].get("notifications", type=Array)) == MAX_NOTIFICATIONS
            )
        )
        for name in sorted(DOC_NAMES):
            assert check_doc(name, server.doc(name)) == [], name
            assert check_doc(name, session.docs[name]) == [], name

        thread = session.docs["threads"].get("threads", type=Map)["3f9c0a1b2c4d"]
        assert thread["title"] == "Plan my trip to Lisbon in May" and thread["last_text"] == "Lisbon: …"
        assert thread["participants"] == [me] and thread["route"] == "local"
        await until(
            lambda: (session.docs["reminders"].get("reminders", type=Map).get("r_2") or {}).get("status") == "delivered"
        )
        assert check_doc("reminders", session.docs["reminders"]) == []
        now = session.docs["context"].get("now", type=Map)["place"]
        assert now["value"] == "the office" and now["device"] == me
        items = session.docs["notifications"].get("notifications", type=Array).to_py()
        assert items[-1]["data"] == {"thread": "3f9c0a1b2c4d"} and items[-1]["kind"] == "handoff"
        assert items[0]["text"] == "stretch 6"  # the oldest were dropped
        assert server.doc("notifications").get("read", type=Map)["n_1"] == 1790000000.0
        await session.close()


async def test_devices_cannot_append_into_the_hubs_roots(tmp_path):
    async with inproc_hub(tmp_path) as (_server, url):
        session = DeviceSession(
            url, name="tab", kind="tablet", state_dir=tmp_path / "tab", pair_code=pair_code(tmp_path, "tab")
        )
        session.start()
        await session.wait_ready()
        for doc, key in HUB_ROOTS:
            reply = await session.submit("state.append", {"doc": doc, "key": key, "value": 1})
            assert reply.code == "invalid_params", (doc, key)
        await session.close()


def test_the_check_finds_departures():
    from pycrdt import Doc

    doc = Doc()
    doc.get("threads", type=Map)["t1"] = {"thread": "t2", "title": 3}
    problems = check_doc("threads", doc)
    assert any("thread field differs" in p for p in problems) and any("missing updated_at" in p for p in problems)
    settings = Doc()
    settings.get("hub", type=Map)["inference.policy"] = "always-cloud"
    assert check_doc("settings", settings) == ["settings.hub.inference.policy: 'always-cloud'"]


def test_a_thread_started_without_chat_send_is_named_by_its_first_question():
    from pycrdt import Doc

    from qira.sync._schema import mirror_event

    docs = {"threads": Doc(), "notifications": Doc()}
    done = {"thread": "voice1", "turn": "t1", "text": "It's 10:04.", "route": "local", "question": "what time  is it"}
    mirror_event(docs, "dev_watch", "chat.done", done, 7)  # a spoken turn: no chat.send named it
    mirror_event(docs, "dev_watch", "chat.done", {**done, "turn": "t2", "question": "and tomorrow?"}, 8)
    entry = docs["threads"].get("threads", type=Map)["voice1"]
    assert entry["title"] == "what time is it" and entry["last_turn"] == "t2"
    assert check_doc("threads", docs["threads"]) == []
