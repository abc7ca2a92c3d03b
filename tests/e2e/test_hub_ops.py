"""hub.status, settings.set, devices.list and approval.list against a live hub, from real
device processes: what the faces (companion, tray) build on."""

from __future__ import annotations

import pytest

from qira.agent import agent_db_path, read_audit
from qira.sync import SyncStore
from tests._devices import close_all, pair_devices
from tests._hub import HubProcess

KINDS = {"pc": "pc", "phone": "phone"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hub-ops")
    # an endpoint is configured (nothing listens there): the policy then decides routing
    hub = HubProcess(
        tmp / "hub", env={"QIRA_HUB_WARM_UP": "false", "QIRA_INFERENCE_CLOUD__BASE_URL": "http://127.0.0.1:9/v1"}
    )
    hub.start()
    try:
        devices = pair_devices(hub, KINDS, tmp / "devices")
    except BaseException:
        hub.stop()
        raise
    try:
        yield hub, devices
    finally:
        close_all(devices)
        hub.stop()


def test_a_device_gets_the_hub_status_after_hello(world):
    _, devices = world
    status = devices["pc"].wait(lambda e: e.get("type") == "hub.status")
    assert status["policy"] == "prefer-local"
    assert status["state"] in ("ready", "warming")
    assert "sync" not in status["components"] or status["components"]["sync"]["state"]
    assert status["components"]["hub"]["state"] == "ready"
    reply = devices["pc"].send("hub.status")
    assert reply["ok"] and reply["result"]["version"] == status["version"]
    assert reply["result"]["cloud"] == status["components"]["cloud"]["state"]


def test_settings_set_changes_the_policy_everywhere_and_is_audited(world):
    hub, devices = world
    phone_mark = devices["phone"].mark()
    reply = devices["pc"].send("settings.set", {"key": "inference.policy", "value": "local-only"})
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
        refused = devices["pc"].send("settings.set", bad)
        assert not refused["ok"] and refused["code"] == "invalid_params", refused
    assert devices["phone"].send("hub.status")["result"]["policy"] == "local-only"


def test_the_policy_survives_a_restart_and_is_in_the_settings_document(world):
    hub, devices = world
    assert devices["pc"].send("settings.set", {"key": "inference.policy", "value": "prefer-cloud"})["ok"]
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
    assert devices["pc"].send("settings.set", {"key": "inference.policy", "value": "prefer-local"})["ok"]


def test_devices_list_shows_every_paired_device_with_presence(world):
    _, devices = world
    reply = devices["phone"].send("devices.list")
    listed = {d["name"]: d for d in reply["result"]["devices"]}
    assert set(listed) == {"pc", "phone"}
    assert listed["pc"]["online"] is True and listed["pc"]["kind"] == "pc"
    assert set(listed["pc"]) == {"device", "name", "kind", "online", "last_seen", "last_active", "capabilities"}
    refused = devices["phone"].send("devices.list", {"all": True})
    assert refused["code"] == "invalid_params"


def test_approval_list_shows_a_pending_approval_until_it_is_answered(world):
    _, devices = world
    pc, phone = devices["pc"], devices["phone"]
    assert phone.send("approval.list")["result"] == {"approvals": []}
    assert "remember" in pc.ask("remember that my locker code is 4411", timeout=120)["text"]
    mark = phone.mark()
    pc.say("forget my locker code")
    request = phone.wait(lambda e: e.get("type") == "approval.request", after=mark, timeout=60)
    pending = phone.send("approval.list")["result"]["approvals"]
    assert [a["approval"] for a in pending] == [request["approval"]]
    assert {k: pending[0][k] for k in request if k in pending[0]} == {k: request[k] for k in pending[0]}
    answered = phone.send("approval.respond", {"approval": request["approval"], "approve": False})
    assert answered["result"]["status"] == "denied"
    assert phone.send("approval.list")["result"] == {"approvals": []}
