"""`qira pair`, `qira devices list|revoke` and `qira device run --json` as real processes against a real hub."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from tests._devices import DeviceProcess

QIRA = [sys.executable, "-m", "qira.cli"]


def qira(*args: str, data_dir) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*QIRA, *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )


def test_pair_run_list_revoke(hub, tmp_path):
    paired = qira("pair", "--name", "kitchen-tablet", "--kind", "tablet", "--json", data_dir=hub.data_dir)
    assert paired.returncode == 0, paired.stderr
    code = json.loads(paired.stdout)["code"]
    again = qira("pair", "--name", "other", "--kind", "phone", data_dir=hub.data_dir)
    assert again.returncode == 0 and "valid 10 minutes, single use" in again.stdout

    device = DeviceProcess(hub.ws_url, name="kitchen-tablet", kind="tablet", state=tmp_path / "tab", code=code)
    try:
        ready = device.wait(lambda e: e["type"] == "session.ready")
        assert ready["name"] == "kitchen-tablet" and ready["kind"] == "tablet"
        reply = device.send("state.append", {"doc": "reminders", "key": "items", "value": "buy milk"})
        assert reply["ok"] is True and reply["result"] == {"index": 0}
        reply = device.send("sync.noop")
        assert reply["seq"] == 2 and reply["ok"] is True

        listing = qira("devices", "list", "--json", data_dir=hub.data_dir)
        rows = [json.loads(line) for line in listing.stdout.splitlines()]
        assert [(r["name"], r["kind"], r["online"]) for r in rows] == [("kitchen-tablet", "tablet", True)]
        assert rows[0]["capabilities"]["screen"] is True and rows[0]["last_seen"]
        table = qira("devices", "list", data_dir=hub.data_dir).stdout
        assert "kitchen-tablet" in table and "yes" in table

        revoked = qira("devices", "revoke", "kitchen-tablet", data_dir=hub.data_dir)
        assert revoked.returncode == 0, revoked.stderr
        closed = device.wait(lambda e: e["type"] == "session.closed")
        assert closed["code"] == 4003
        assert device.proc.wait(10) == 5  # exit status 5: revoked (issue 12)
        assert "revoked" in device.output()
    finally:
        device.close()

    # The token never works again, even after a hub restart.
    hub.restart()
    device = DeviceProcess(hub.ws_url, name="kitchen-tablet", kind="tablet", state=tmp_path / "tab")
    try:
        assert device.wait(lambda e: e["type"] == "session.closed")["code"] == 4003
        assert device.proc.wait(10) == 5
    finally:
        device.close()
    assert qira("devices", "list", "--json", data_dir=hub.data_dir).stdout == ""
    missing = qira("devices", "revoke", "nope", data_dir=hub.data_dir)
    assert missing.returncode == 1 and "no paired device named 'nope'" in missing.stderr


def test_hub_shutdown_closes_devices_with_1001(hub):
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    code = json.loads(qira("pair", "--name", "pc", "--kind", "pc", "--json", data_dir=hub.data_dir).stdout)["code"]
    with connect(hub.ws_url) as ws:
        ws.send(json.dumps({"v": 1, "id": 1, "type": "hello", "pair": {"code": code}}))
        assert json.loads(ws.recv(5))["type"] == "result"
        assert hub.stop() == 0
        try:
            while True:
                ws.recv(5)
        except ConnectionClosed:
            pass
        assert ws.protocol.close_rcvd.code == 1001
    # the hub is down: the registry must not claim the device is still online
    listed = qira("devices", "list", "--json", data_dir=hub.data_dir)
    assert [json.loads(line)["online"] for line in listed.stdout.splitlines()] == [False]


def test_pair_token_works_at_once_on_a_running_hub(hub):
    import httpx

    issued = qira("pair", "--name", "scripts", "--kind", "pc", "--token", "--json", data_dir=hub.data_dir)
    assert issued.returncode == 0, issued.stderr
    token = json.loads(issued.stdout)["token"]
    again = qira("pair", "--name", "scripts", "--kind", "pc", "--token", data_dir=hub.data_dir)
    assert again.returncode == 1 and "already paired" in again.stderr

    def models_status() -> int:
        return httpx.get(
            hub.http_url + "/v1/models", headers={"Authorization": f"Bearer {token}"}, timeout=5
        ).status_code

    deadline = time.monotonic() + 5  # the hub polls for device changes every 0.5 s
    while models_status() != 200:
        assert time.monotonic() < deadline, "the running hub never learned the new token"
        time.sleep(0.1)
    assert qira("devices", "revoke", "scripts", data_dir=hub.data_dir).returncode == 0
    deadline = time.monotonic() + 5
    while models_status() != 401:
        assert time.monotonic() < deadline, "the revoked token still works"
        time.sleep(0.1)
