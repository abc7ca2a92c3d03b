"""hub.status, settings.set, devices.list and approval.list against a live hub, from real
device processes: what the faces (companion, tray) build on."""

from __future__ import annotations

import json

import pytest

from qira.agent import agent_db_path, read_audit
from qira.sync import SyncStore
from tests._hub import HubProcess
from tests.e2e.test_agent_devices import DeviceProcess

KINDS = {"pc": "pc", "phone": "phone"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hub-ops")
    # an endpoint is configured (nothing listens there): the policy then decides routing
    hub = HubProcess(
        tmp / "hub", env={"QIRA_HUB_WARM_UP": "false", "QIRA_INFERENCE_CLOUD__BASE_URL": "http://127.0.0.1:9/v1"}
    )
    hub.start()
    store = SyncStore(hub.data_dir / "sync.db")
    codes = {name: store.create_pairing_code(name, kind, 600) for name, kind in KINDS.items()}
    store.close()
    devices = {
        name: DeviceProcess(hub.ws_url, name=name, kind=kind, state=tmp / "devices" / name, code=codes[name])
        for name, kind in KINDS.items()
    }
    try:
        for d in devices.values():
            d.wait(lambda e: e.get("type") == "session.ready", timeout=60)
        yield hub, devices
    finally:
        for d in devices.values():
            d.close()
        hub.stop()


def send(device: DeviceProcess, type_: str, payload: dict | None = None) -> dict:
    mark = device.mark()
    device.say(f"/send {type_} {json.dumps(payload or {})}")
    return device.wait(lambda e: e.get("type") == "reply", after=mark)


def test_a_device_gets_the_hub_status_after_hello(world):
    _, devices = world
    status = devices["pc"].wait(lambda e: e.get("type") == "hub.status")
    assert status["policy"] == "prefer-local"
    assert status["state"] in ("ready", "warming")
    assert "sync" not in status["components"] or status["components"]["sync"]["state"]
    assert status["components"]["hub"]["state"] == "ready"
    reply = send(devices["pc"], "hub.status")
    assert reply["ok"] and reply["result"]["version"] == status["version"]
    assert reply["result"]["cloud"] == status["components"]["cloud"]["state"]


def test_settings_set_changes_the_policy_everywhere_and_is_audited(world):
    hub, devices = world
    phone_mark = devices["phone"].mark()
    reply = send(devices["pc"], "settings.set", {"key": "inference.policy", "value": "local-only"})
    assert reply["ok"], reply
    assert reply["result"] == {"key": "inference.policy", "value": "local-only", "previous": "prefer-local"}
    event = devices["phone"].wait(
        lambda e: e.get("type") == "hub.status" and e.get("policy") == "local-only", after=phone_mark
    )
    assert event["cloud"] == event["components"]["cloud"]["state"]
    entries = read_audit(agent_db_path(hub.data_dir), skill="settings")
    assert entries and entries[0].device_name == "pc" and "local-only" in entries[0].action

    for bad in (
        {"key": "inference.policy", "value": "cloud-always"},
        {"key": "hub.port", "value": 1},
        {"key": "inference.policy", "value": "local-only", "extra": 1},
    ):
        refused = send(devices["pc"], "settings.set", bad)
        assert not refused["ok"] and refused["code"] == "invalid_params", refused
    assert send(devices["phone"], "hub.status")["result"]["policy"] == "local-only"


def test_the_policy_survives_a_restart_and_is_in_the_settings_document(world):
    hub, devices = world
    assert send(devices["pc"], "settings.set", {"key": "inference.policy", "value": "prefer-cloud"})["ok"]
    marks = {name: d.mark() for name, d in devices.items()}
    hub.restart()
    for name, d in devices.items():
        d.wait(lambda e: e.get("type") == "session.ready", after=marks[name], timeout=30)
    status = devices["phone"].wait(lambda e: e.get("type") == "hub.status", after=marks["phone"])
    assert status["policy"] == "prefer-cloud"
    store = SyncStore(hub.data_dir / "sync.db")
    try:
        from pycrdt import Doc, Map

        doc = Doc()
        for _, name, update in store.doc_updates():
            if name == "settings":
                doc.apply_update(update)
        assert doc.get("hub", type=Map)["inference.policy"] == "prefer-cloud"
    finally:
        store.close()
    assert send(devices["pc"], "settings.set", {"key": "inference.policy", "value": "prefer-local"})["ok"]


def test_devices_list_shows_every_paired_device_with_presence(world):
    _, devices = world
    reply = send(devices["phone"], "devices.list")
    listed = {d["name"]: d for d in reply["result"]["devices"]}
    assert set(listed) == {"pc", "phone"}
    assert listed["pc"]["online"] is True and listed["pc"]["kind"] == "pc"
    assert set(listed["pc"]) == {"device", "name", "kind", "online", "last_seen", "last_active", "capabilities"}
    refused = send(devices["phone"], "devices.list", {"all": True})
    assert refused["code"] == "invalid_params"


def test_approval_list_shows_a_pending_approval_until_it_is_answered(world):
    _, devices = world
    pc, phone = devices["pc"], devices["phone"]
    assert send(phone, "approval.list")["result"] == {"approvals": []}
    assert "remember" in pc.ask("remember that my locker code is 4411", timeout=120)["text"]
    mark = phone.mark()
    pc.say("forget my locker code")
    request = phone.wait(lambda e: e.get("type") == "approval.request", after=mark, timeout=60)
    pending = send(phone, "approval.list")["result"]["approvals"]
    assert [a["approval"] for a in pending] == [request["approval"]]
    assert {k: pending[0][k] for k in request if k in pending[0]} == {k: request[k] for k in pending[0]}
    answered = send(phone, "approval.respond", {"approval": request["approval"], "approve": False})
    assert answered["result"]["status"] == "denied"
    assert send(phone, "approval.list")["result"] == {"approvals": []}
