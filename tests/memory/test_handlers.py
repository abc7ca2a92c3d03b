"""The wire handlers a device uses, against a real store; private memories never leave the hub."""

from __future__ import annotations

import pytest

from qira.devices import DeviceInfo, DeviceKind
from qira.errors import ProtocolError
from qira.memory import memory_handlers

pytestmark = pytest.mark.anyio

PHONE = DeviceInfo(id="phone-1", name="phone", kind=DeviceKind.PHONE)
TABLET = DeviceInfo(id="tablet-1", name="tablet", kind=DeviceKind.TABLET)


@pytest.fixture
async def wire(store):
    return memory_handlers(store)


async def test_registration_covers_every_message(wire):
    assert set(wire) == {"memory.add", "memory.search", "memory.forget", "memory.list", "context.event"}


async def test_add_search_forget_over_the_wire(wire, store):
    added = await wire["memory.add"](PHONE, {"text": "My gym locker is number 117", "kind": "fact"})
    assert added["action"] == "added" and added["memory"]["device"] == "phone-1" and added["chunks"] == []
    found = await wire["memory.search"](TABLET, {"query": "which locker is mine?", "k": 1})
    assert [h["memory"]["id"] for h in found["hits"]] == [added["id"]]
    assert found["hits"][0]["memory"]["scope"] == "shared" and "similarity" in found["hits"][0]["explanation"]
    assert (await wire["memory.forget"](TABLET, {"memory_id": added["id"]})) == {
        "memory_id": added["id"],
        "forgotten": True,
    }
    assert (await wire["memory.search"](TABLET, {"query": "which locker is mine?"}))["hits"] == []
    history = await store.history(added["id"])
    assert [(e.op, e.actor) for e in history] == [("add", "phone-1"), ("forget", "tablet-1")]


async def test_private_and_other_devices_memories_do_not_leave_the_hub(wire, store):
    secret = await store.add("My therapist appointment is on Thursday", scope="private")
    phone_only = await wire["memory.add"](PHONE, {"text": "Thursday: charge this phone overnight", "scope": "device"})
    for device in (PHONE, TABLET):
        hits = (await wire["memory.search"](device, {"query": "what is on Thursday?", "k": 10}))["hits"]
        ids = {h["memory"]["id"] for h in hits}
        assert secret.memory.id not in ids
        assert (phone_only["id"] in ids) == (device is PHONE)
        listed = {m["id"] for m in (await wire["memory.list"](device, {}))["memories"]}
        assert secret.memory.id not in listed
    asked = (await wire["memory.search"](PHONE, {"query": "therapist", "scopes": ["private"]}))["hits"]
    assert asked == []
    with pytest.raises(ProtocolError) as err:
        await wire["memory.forget"](PHONE, {"memory_id": secret.memory.id})
    assert err.value.code == "not_found"
    with pytest.raises(ProtocolError) as err:
        await wire["memory.forget"](TABLET, {"memory_id": phone_only["id"]})
    assert err.value.code == "not_found"
    assert await store.count() == 2


async def test_context_event(wire, store):
    result = await wire["context.event"](PHONE, {"kind": "activity", "value": "cycling to work"})
    assert result["action"] == "added" and result["scope"] == "shared"
    memory = await store.get(result["id"])
    assert memory.kind.value == "context" and memory.device == "phone-1" and memory.text == "I am cycling to work"


@pytest.mark.parametrize(
    ("type_", "payload", "code"),
    [
        ("memory.add", {}, "invalid_params"),
        ("memory.add", {"text": ""}, "invalid_params"),
        ("memory.add", {"text": "x", "colour": "red"}, "invalid_params"),
        ("memory.add", {"text": "x", "importance": "high"}, "invalid_params"),
        ("memory.add", {"text": 42}, "invalid_params"),
        ("memory.add", ["not", "an", "object"], "invalid_params"),
        ("memory.search", {"query": "x", "k": 5000}, "invalid_params"),
        ("memory.search", {"query": "x", "kinds": "fact,episode"}, "invalid_params"),
        ("memory.search", {"query": "x", "kinds": 3}, "invalid_params"),
        ("memory.search", {"query": "x", "since": "yesterday"}, "invalid_params"),
        ("memory.forget", {"memory_id": "m_missing"}, "not_found"),
        ("memory.forget", {"memory_id": 7}, "invalid_params"),
        ("memory.forget", {"id": "m_missing"}, "invalid_params"),
        ("memory.list", {"limit": 0}, "invalid_params"),
        ("context.event", {"kind": "mood", "value": "fine"}, "invalid_params"),
        ("context.event", {"kind": "place", "value": ""}, "invalid_params"),
    ],
)
async def test_bad_requests_get_stable_codes(wire, store, type_, payload, code):
    with pytest.raises(ProtocolError) as err:
        await wire[type_](PHONE, payload)
    assert err.value.code == code and str(err.value)
    assert await store.count() == 0
