"""Issue 9, items 8-10 against real processes: one hub per data directory, read commands beside
a running hub and on a copy, revoked devices in threads, stopping while models warm."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from tests._hub import HubProcess

from ._abuse import QIRA, device, pair, qira


def snapshot(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def wait_event(client, type_: str, timeout: float = 180.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        client.send({"type": "ping"})  # a device speaks at least every heartbeat, or the hub closes it (4008)
        for event in client.events(5.0):
            if event.get("type") == type_:
                return event
    raise AssertionError(f"no {type_} within {timeout}s")


def test_a_second_hub_on_the_same_data_dir_exits_naming_the_first(hub):
    second = subprocess.run(
        [*QIRA, "serve", "--port", "0", "--data-dir", str(hub.data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert second.returncode == 1
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and f"pid {hub.proc.pid}" in lines[0], second.stderr
    assert (hub.data_dir / "hub.lock").read_text().strip() == str(hub.proc.pid)
    assert hub.health()["status"] == "ok"  # the first one is untouched


def test_read_commands_work_beside_a_running_hub_and_on_a_copy(hub, tmp_path):
    token = pair(hub.ws_url, hub.data_dir, "reader-phone")
    c = device(hub.ws_url, token, capabilities={"screen": True})
    assert c.op("memory.add", timeout=240, text="The spare key is under the blue flowerpot")["type"] == "result"
    for args in (
        ("devices", "list", "--json"),
        ("memory", "list", "--json"),
        ("memory", "export"),
        ("audit", "--json"),
    ):  # (search opens the store the same way; it runs on the copy below)
        done = qira(*args, data_dir=hub.data_dir)
        assert done.returncode == 0, (args, done.stderr)
        assert "Traceback" not in done.stderr
        if args[0] == "devices":
            assert json.loads(done.stdout.splitlines()[0])["online"] is True
        if args[:2] == ("memory", "list"):
            assert "flowerpot" in done.stdout
    c.close()
    hub.stop()
    copy = tmp_path / "copy"
    shutil.copytree(hub.data_dir, copy)
    for path in [copy, *copy.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    before = snapshot(copy)
    try:
        for args in (
            ("devices", "list"),
            ("memory", "list"),
            ("memory", "export"),
            ("audit",),
            ("memory", "search", "spare key"),
        ):
            done = qira(*args, data_dir=copy)
            assert done.returncode == 0 and "Traceback" not in done.stderr, (args, done.stderr)
            if args[:2] in (("memory", "list"), ("memory", "search")):
                assert "flowerpot" in done.stdout
            if args == ("devices", "list"):
                assert "reader-phone" in done.stdout
        assert snapshot(copy) == before  # nothing written, created or migrated
    finally:
        for path in [copy, *copy.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)


def test_answers_in_a_thread_skip_a_revoked_participant_quietly(hub):
    phone = device(hub.ws_url, pair(hub.ws_url, hub.data_dir, "old-phone"))
    reply = phone.op("chat.send", timeout=120, text="hello there")
    assert reply["type"] == "result", reply
    thread = reply["result"]["thread"]
    wait_event(phone, "chat.done")
    phone.close()
    assert qira("devices", "revoke", "old-phone", data_dir=hub.data_dir).returncode == 0
    token = pair(hub.ws_url, hub.data_dir, "new-pc", "pc")
    for round_ in range(2):  # before and after a restart
        pc = device(hub.ws_url, token)
        pc.seq = round_  # operation seqs go on across connections
        assert pc.op("chat.send", timeout=120, text="and what next?", thread=thread)["type"] == "result"
        assert wait_event(pc, "chat.done")["thread"] == thread
        pc.ws.send(json.dumps({"v": 1, "type": "ack", "op_seq": pc.seq}))
        pc.close()
        out = "".join(hub.output)
        assert "UnknownDevice" not in out and "Traceback" not in out, out[-3000:]
        hub.restart()


def test_stopping_while_models_warm_does_not_wait_for_them(tmp_path):
    hub = HubProcess(tmp_path / "hub", env={"QIRA_HUB_WARM_UP": "true", "QIRA_HUB_LOG_LEVEL": "info"})
    hub.start()
    assert hub.stop(signal.SIGTERM, timeout=60) == 0
    out = "".join(hub.output)
    assert "qira.hub: stopped" in out
    # The embedding model takes seconds to import; the hub stopped without waiting for it.
    assert "component embeddings ready" not in out, out[-2000:]
    assert "Traceback" not in out


def test_the_lock_is_released_when_the_hub_stops(hub):
    hub.stop()
    second = HubProcess(hub.data_dir, env={"QIRA_HUB_WARM_UP": "false"}).start()
    assert second.proc is not None and second.proc.poll() is None
    second.stop()
