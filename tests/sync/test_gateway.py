"""The hub-side API (DeviceGateway, handlers, presence, shared documents) against real sockets."""

from __future__ import annotations

import asyncio

import pytest
from pycrdt import Array, Map

from device_adapters import DeviceSession
from qira.devices import DeviceInfo
from qira.errors import ProtocolError, UnknownDevice

from ._support import RawClient, inproc_hub, pair_code

pytestmark = pytest.mark.anyio


async def paired(url: str, data_dir, name: str) -> tuple[str, str]:
    async with RawClient.connect(url) as c:
        reply = await c.hello(code=pair_code(data_dir, name))
        assert reply["type"] == "result", reply
        return reply["result"]["device_id"], reply["result"]["token"]


async def test_pairing_code_is_single_use_and_tokens_are_stored_hashed(tmp_path):
    async with inproc_hub(tmp_path) as (server, url):
        code = pair_code(tmp_path, "phone", "phone")
        async with RawClient.connect(url) as c:
            reply = await c.hello(code=code.lower().replace("-", ""))  # codes forgive case and dashes
            token = reply["result"]["token"]
            assert reply["result"]["name"] == "phone" and reply["result"]["kind"] == "phone"
        async with RawClient.connect(url) as c:
            reply = await c.hello(code=code)
            assert reply["code"] == "auth_failed"
            assert await c.closed_with() == 4001
        async with RawClient.connect(url) as c:
            assert (await c.hello(token=token))["type"] == "result"
        async with RawClient.connect(url) as c:
            assert (await c.hello(token="qd_not-a-token"))["code"] == "auth_failed"
            assert await c.closed_with() == 4001
        assert [d.name for d in server.devices()] == ["phone"]
    raw = (
        (tmp_path / "sync.db").read_bytes() + (tmp_path / "sync.db-wal").read_bytes()
        if (tmp_path / "sync.db-wal").exists()
        else (tmp_path / "sync.db").read_bytes()
    )
    assert token.encode() not in raw and code.encode() not in raw


async def test_expired_code_and_failed_code_lockout(tmp_path):
    async with inproc_hub(tmp_path, pairing_max_failures=3, pairing_lockout_s=60) as (_server, url):
        expired = pair_code(tmp_path, "old", ttl_s=-1)
        good = pair_code(tmp_path, "new")
        async with RawClient.connect(url) as c:
            assert (await c.hello(code=expired))["code"] == "auth_failed"
        for _ in range(2):
            async with RawClient.connect(url) as c:
                assert (await c.hello(code="ZZZZ-ZZZZ"))["code"] == "auth_failed"
        async with RawClient.connect(url) as c:  # locked out now, even with a good code
            reply = await c.hello(code=good)
            assert reply["code"] == "pairing_locked"
            assert await c.closed_with() == 4001


async def test_nothing_but_hello_before_auth_and_auth_timeout(tmp_path):
    async with inproc_hub(tmp_path, auth_timeout_s=0.5) as (_server, url):
        async with RawClient.connect(url) as c:
            reply = await c.call({"type": "state.append", "seq": 1, "doc": "context", "key": "k", "value": 1})
            assert reply["code"] == "not_authenticated"
            await c.ws.send(b"\x00\x07context\x00\x00\x01\x00")
            assert (await c.recv_json())["code"] == "not_authenticated"
            assert await c.closed_with(timeout=5) == 4002


async def test_handlers_results_errors_and_unknown_types(tmp_path):
    async def ok(device: DeviceInfo, payload):
        return {"echo": payload["text"], "from": device.name}

    async def refuses(device, payload):
        raise ProtocolError("no such memory", code="memory_not_found")

    async def crashes(device, payload):
        raise RuntimeError("boom")

    async with inproc_hub(tmp_path) as (server, url):
        server.register_handler("test.ok", ok)
        server.register_handler("test.refuses", refuses)
        server.register_handler("test.crashes", crashes)
        _id, token = await paired(url, tmp_path, "tab")
        async with RawClient.connect(url) as c:
            await c.hello(token=token)
            assert (await c.call({"type": "test.ok", "seq": 1, "text": "hi"}))["result"] == {
                "echo": "hi",
                "from": "tab",
            }
            assert (await c.call({"type": "test.refuses", "seq": 2}))["code"] == "memory_not_found"
            assert (await c.call({"type": "test.crashes", "seq": 3}))["code"] == "internal_error"
            assert (await c.call({"type": "nobody.home", "seq": 4}))["code"] == "unknown_type"
            assert (await c.call({"type": "ping"}))["type"] == "result"  # the connection is fine


async def test_operations_apply_exactly_once(tmp_path):
    calls = []

    async def count(device, payload):
        calls.append(payload["n"])
        await asyncio.sleep(0.05)
        return {"n": payload["n"]}

    async with inproc_hub(tmp_path) as (server, url):
        server.register_handler("test.count", count)
        _id, token = await paired(url, tmp_path, "tab")
        async with RawClient.connect(url) as c:
            await c.hello(token=token)
            await c.send({"type": "test.count", "seq": 1, "n": 1})
            await c.send({"type": "test.count", "seq": 1, "n": 1})  # while the first is still running
            first, again = await c.recv_json(), await c.recv_json()
            assert first["result"] == again["result"] == {"n": 1} and first["seq"] == 1
            gap = await c.call({"type": "test.count", "seq": 3, "n": 3})
            assert gap["code"] == "seq_out_of_order" and gap["expected"] == 2
        async with RawClient.connect(url) as c:  # a replay on a new connection gets the stored reply
            welcome = await c.hello(token=token)
            assert welcome["result"]["last_seq"] == 1
            assert (await c.call({"type": "test.count", "seq": 1, "n": 1}))["result"] == {"n": 1}
            await c.send({"type": "ack", "op_seq": 1})
            await asyncio.sleep(0.1)
            assert (await c.call({"type": "test.count", "seq": 1, "n": 1}))["code"] == "seq_already_acked"
            assert (await c.call({"type": "test.count", "seq": 2, "n": 2}))["result"] == {"n": 2}
        assert calls == [1, 2]


async def test_push_is_durable_and_resumes_send_is_ephemeral(tmp_path):
    async with inproc_hub(tmp_path) as (server, url):
        device_id, token = await paired(url, tmp_path, "tab")
        seqs = [await server.push(device_id, "notification", {"text": f"n{i}"}) for i in range(3)]
        assert seqs == sorted(seqs)
        assert await server.send(device_id, "chat.delta", {"text": "lost"}) is False
        with pytest.raises(UnknownDevice):
            await server.push("dev_nope", "notification", {})
        async with RawClient.connect(url) as c:
            await c.hello(token=token)
            got = [await c.recv_json() for _ in range(3)]
            assert [(e["type"], e["hub_seq"], e["text"]) for e in got] == [
                ("notification", s, f"n{i}") for i, s in enumerate(seqs)
            ]
            await c.send({"type": "ack", "hub_seq": seqs[1]})
            await asyncio.sleep(0.1)
    async with inproc_hub(tmp_path) as (server, url):  # after a hub restart, only the unacked one comes back
        async with RawClient.connect(url) as c:
            await c.hello(token=token, hub_seq=seqs[1])
            event = await c.recv_json()
            assert event["hub_seq"] == seqs[2]
            live = await server.push(device_id, "notification", {"text": "live"})
            assert (await c.recv_json())["hub_seq"] == live > seqs[2]
            assert await server.send(device_id, "chat.delta", {"text": "now"}) is True
            delta = await c.recv_json()
            assert delta == {"v": 1, "type": "chat.delta", "text": "now"}


async def test_presence_callbacks_and_events(tmp_path):
    seen: list[DeviceInfo] = []
    async with inproc_hub(tmp_path) as (server, url):
        server.on_presence(seen.append)
        _a, token_a = await paired(url, tmp_path, "a")
        _b, token_b = await paired(url, tmp_path, "b")
        seen.clear()
        async with RawClient.connect(url) as a:
            await a.hello(token=token_a)
            async with RawClient.connect(url) as b:
                await b.hello(token=token_b)
                event = await a.recv_json()
                assert event["type"] == "presence" and event["name"] == "b" and event["online"] is True
                await b.call({"type": "presence", "active": True, "capabilities": {"battery": 0.25}})
                event = await a.recv_json()
                assert event["capabilities"]["battery"] == 0.25 and event["last_active"]
            event = await a.recv_json()
            assert event["name"] == "b" and event["online"] is False
        await asyncio.sleep(0.1)
        assert [(d.name, d.online) for d in seen] == [("a", True), ("b", True), ("b", True), ("b", False), ("a", False)]
        b_info = next(d for d in server.devices() if d.name == "b")
        assert b_info.capabilities["battery"] == 0.25 and not b_info.online and b_info.last_seen


async def test_second_connection_replaces_the_first(tmp_path):
    async with inproc_hub(tmp_path) as (_server, url):
        _id, token = await paired(url, tmp_path, "tab")
        async with RawClient.connect(url) as first, RawClient.connect(url) as second:
            await first.hello(token=token)
            await second.hello(token=token)
            assert await first.closed_with() == 4004
            assert (await second.call({"type": "ping"}))["type"] == "result"


async def test_hub_edits_reach_devices_and_survive_restart(tmp_path):
    async with inproc_hub(tmp_path) as (server, url):
        session = DeviceSession(
            url, name="tab", kind="tablet", state_dir=tmp_path / "tab", pair_code=pair_code(tmp_path, "tab")
        )
        session.start()
        await session.wait_synced()
        async with server.edit("reminders") as doc:
            doc.get("items", type=Array).append({"text": "water plants"})
        for _ in range(100):
            if session.docs["reminders"].get("items", type=Array).to_py():
                break
            await asyncio.sleep(0.02)
        assert session.docs["reminders"].get("items", type=Array).to_py() == [{"text": "water plants"}]
        session.docs["settings"].get("prefs", type=Map)["theme"] = "dark"
        await asyncio.sleep(0.2)
        assert server.doc("settings").get("prefs", type=Map).to_py() == {"theme": "dark"}
        await session.close()
    async with inproc_hub(tmp_path) as (server, _url):
        assert server.doc("reminders").get("items", type=Array).to_py() == [{"text": "water plants"}]
        assert server.doc("settings").get("prefs", type=Map).to_py() == {"theme": "dark"}


async def test_many_updates_are_compacted_and_still_fan_out(tmp_path):
    from qira.sync._docs import _COMPACT_EVERY

    async with inproc_hub(tmp_path, messages_per_second=100_000, burst=100_000) as (server, url):
        session = DeviceSession(
            url, name="tab", kind="tablet", state_dir=tmp_path / "tab", pair_code=pair_code(tmp_path, "tab")
        )
        session.start()
        await session.wait_synced()
        items = session.docs["context"].get("n", type=Array)
        for i in range(_COMPACT_EVERY + 50):
            items.append(i)
            if i % 200 == 0:
                await asyncio.sleep(0)
        hub_items = server.doc("context").get("n", type=Array)
        for _ in range(250):
            if len(hub_items) == _COMPACT_EVERY + 50:
                break
            await asyncio.sleep(0.02)
        assert len(hub_items) == _COMPACT_EVERY + 50
        async with server.edit("context") as doc:
            doc.get("n", type=Array).append("from hub")
        for _ in range(100):
            if items.to_py()[-1] == "from hub":
                break
            await asyncio.sleep(0.02)
        assert items.to_py()[-1] == "from hub"
        await session.close()
    async with inproc_hub(tmp_path) as (server, _url):
        assert len(server.doc("context").get("n", type=Array)) == _COMPACT_EVERY + 51


async def test_audio_frames_both_ways_and_awareness_relay(tmp_path):
    from qira.sync import ymsg
    from qira.sync._wire import encode_audio, encode_doc

    chunks = []
    async with inproc_hub(tmp_path) as (server, url):
        server.on_audio(lambda device, stream, seq, data: chunks.append((device.name, stream, seq, data)))
        watch_id, watch_token = await paired(url, tmp_path, "watch")
        _pc, pc_token = await paired(url, tmp_path, "pc")
        async with RawClient.connect(url) as watch, RawClient.connect(url) as pc:
            await watch.hello(token=watch_token)
            await pc.hello(token=pc_token)
            await watch.ws.send(encode_audio("mic-1", 0, b"\x01\x02"))
            await watch.ws.send(encode_audio("mic-1", 1, b"\x03"))
            assert (await watch.call({"type": "ping"}))["type"] == "result"
            assert chunks == [("watch", "mic-1", 0, b"\x01\x02"), ("watch", "mic-1", 1, b"\x03")]
            assert server.send_audio(watch_id, "tts-1", 0, b"hello")
            frame = await watch.recv()
            while not isinstance(frame, bytes):
                frame = await watch.recv()
            assert frame == encode_audio("tts-1", 0, b"hello")
            # Awareness goes to the other devices subscribed to the document, unchanged.
            for c in (watch, pc):
                await c.ws.send(encode_doc("threads", ymsg.step1(b"\x00")))
                assert await c.recv() == encode_doc("threads", ymsg.step2(b"\x00\x00"))  # subscribed
            state = b'{"typing":true}'
            awareness = ymsg.awareness(b"\x01\x05\x01" + bytes([len(state)]) + state)
            await watch.ws.send(encode_doc("threads", awareness))
            for _ in range(10):
                frame = await pc.recv()
                if frame == encode_doc("threads", awareness):
                    break
            else:
                raise AssertionError("awareness was not relayed")


async def test_device_for_token(tmp_path):
    async with inproc_hub(tmp_path) as (server, url):
        device_id, token = await paired(url, tmp_path, "tab")
        assert server.device_for_token(token).id == device_id
        assert server.device_for_token("qd_nope") is None
