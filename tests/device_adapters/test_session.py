"""The shared device session: durable outbox, persistent replica, reconnect, terminal commands."""

from __future__ import annotations

import asyncio

import pytest
from pycrdt import Array

from device_adapters import PROFILES, DeviceSession
from device_adapters._terminal import parse_command
from qira.errors import AuthError
from tests.sync._support import inproc_hub, pair_code

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def eventually(check, timeout=5.0):
    for _ in range(int(timeout / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    assert check()


async def test_outbox_survives_a_restart_and_is_applied_once(tmp_path):
    async with inproc_hub(tmp_path / "hub") as (server, url):
        code = pair_code(tmp_path / "hub", "tab")
        s = DeviceSession(url, name="tab", kind="tablet", state_dir=tmp_path / "tab", pair_code=code)
        s.start()
        await s.wait_ready()
        await s.close()
        # Offline: operations and edits go to the device's SQLite only.
        offline = DeviceSession(url, name="tab", kind="tablet", state_dir=tmp_path / "tab")
        for i in range(5):
            offline.submit("state.append", {"doc": "threads", "key": "log", "value": i})
        offline.docs["context"].get("places", type=Array).append("home")
        assert offline.pending == 5
        await offline.close()
        again = DeviceSession(url, name="tab", kind="tablet", state_dir=tmp_path / "tab")
        assert again.pending == 5 and again.docs["context"].get("places", type=Array).to_py() == ["home"]
        again.start()
        await again.wait_idle()
        await again.wait_synced()
        await eventually(lambda: server.doc("context").get("places", type=Array).to_py() == ["home"])
        assert server.doc("threads").get("log", type=Array).to_py() == [0.0, 1.0, 2.0, 3.0, 4.0]
        reply = await again.request("state.append", {"doc": "threads", "key": "log", "value": 5})
        assert reply == {"index": 5}
        await again.close()


async def test_reconnects_after_the_hub_restarts_and_resumes_events(tmp_path):
    hub_dir = tmp_path / "hub"
    async with inproc_hub(hub_dir) as (server, url):
        s = DeviceSession(
            url,
            name="tab",
            kind="tablet",
            state_dir=tmp_path / "tab",
            pair_code=pair_code(hub_dir, "tab"),
            backoff_base_s=0.05,
            backoff_max_s=0.2,
        )
        s.start()
        await s.wait_ready()
        device_id = s.device_id
    port = url.rsplit(":", 1)[1].split("/")[0]
    # The hub is down; the session keeps retrying. Bring it back on the same port.
    await asyncio.sleep(0.3)
    assert not s.connected
    from qira.config import SyncConfig
    from qira.sync import SyncServer

    server = SyncServer(SyncConfig(), hub_dir)
    await server.start()
    seq = await server.push(device_id, "notification", {"text": "while you were away"})
    await server.stop()
    async with inproc_hub(hub_dir) as (server, url2):
        s.hub_url = url2
        await s.wait_ready(5)
        await eventually(lambda: s.hub_seq == seq)
        events = []
        while not s.events.empty():
            events.append(s.events.get_nowait())
        assert {"type": "notification", "hub_seq": seq, "text": "while you were away"} in events
        await s.close()
    assert port


async def test_revoked_session_stops_for_good(tmp_path):
    from qira.sync import SyncStore

    async with inproc_hub(tmp_path / "hub") as (_server, url):
        s = DeviceSession(
            url, name="tab", kind="tablet", state_dir=tmp_path / "tab", pair_code=pair_code(tmp_path / "hub", "tab")
        )
        s.start()
        await s.wait_ready()
        store = SyncStore(tmp_path / "hub" / "sync.db")
        store.revoke("tab")
        store.close()
        await asyncio.wait_for(s.finished.wait(), 3)
        assert s.closed_code == 4003
        with pytest.raises(AuthError):
            await s.wait_ready(1)
        await s.close()


def test_terminal_commands():
    assert parse_command("hello there\n", None) == ("op", ("chat.send", {"text": "hello there"}))
    assert parse_command("hi", "t1") == ("op", ("chat.send", {"text": "hi", "thread": "t1"}))
    assert parse_command("/approve ap_1", None) == ("op", ("approval.respond", {"approval": "ap_1", "approve": True}))
    assert parse_command("/deny ap_1", None) == ("op", ("approval.respond", {"approval": "ap_1", "approve": False}))
    assert parse_command("/thread t9", None) == ("thread", "t9")
    assert parse_command("/context place at the office", None) == (
        "op",
        ("context.event", {"kind": "place", "value": "at the office"}),
    )
    assert parse_command('/send memory.search {"query": "keys"}', None) == ("op", ("memory.search", {"query": "keys"}))
    assert parse_command("/send memory.search [1]", None)[0] == "error"
    assert parse_command("/bogus", None)[0] == "error"
    assert parse_command("   ", None) == ("noop", None)
    assert PROFILES["wearable"]["screen"] is False and PROFILES["pc"]["runs_model"] is True


async def test_an_operation_too_large_for_the_hub_is_refused_locally(tmp_path):
    s = DeviceSession("ws://127.0.0.1:9/ws", name="tab", kind="tablet", state_dir=tmp_path / "tab")
    with pytest.raises(ValueError, match="too large"):
        s.submit("chat.send", {"text": "x" * 2_000_000})
    with pytest.raises(ValueError):
        s.submit("hello", {})
    assert s.pending == 0
    await s.close()
