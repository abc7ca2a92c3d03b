"""Issue 9 regressions against a live ``qira serve``: no device can hurt another, every request
gets exactly one reply, memory stays bounded. A well-behaved witness device keeps working
through every test (its operations are checked after each one)."""

from __future__ import annotations

import json
import secrets
import threading
import time

import pytest

from tests._hub import HubProcess

from ._abuse import Client, RssWatch, device, pair, qira, step1_frame

LONE = "\ud800"  # json.dumps writes it as the escape \ud800: valid JSON, not valid Unicode text
MB = 1024 * 1024


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    hub = HubProcess(tmp_path_factory.mktemp("hardening") / "hub", env={"QIRA_HUB_WARM_UP": "false"}).start()
    witness = device(hub.ws_url, pair(hub.ws_url, hub.data_dir, "witness"), capabilities={"screen": True})
    yield hub, witness
    witness.close()
    hub.stop()


@pytest.fixture(autouse=True)
def witness_keeps_working(request, live):
    yield
    hub, witness = live
    reply = witness.op("state.append", doc="notifications", key="witness", value=witness.seq + 1)
    assert reply["type"] == "result" and reply["seq"] == witness.seq, reply
    assert witness.call({"type": "ping"})["type"] == "result"
    assert hub.proc.poll() is None
    out = "".join(hub.output)
    assert "Traceback" not in out, out[-3000:]


def next_reply(c: Client) -> dict:
    """The next result or error, past events (hub.status, presence) that may arrive meanwhile."""
    while True:
        frame = c.ws.recv(30)
        if isinstance(frame, str) and (msg := json.loads(frame))["type"] in ("result", "error"):
            return msg


def devices_json(hub) -> dict[str, dict]:
    listed = qira("devices", "list", "--json", data_dir=hub.data_dir)
    assert listed.returncode == 0, listed.stderr
    return {d["name"]: d for d in map(json.loads, listed.stdout.splitlines())}


# -- 1. a lone surrogate in capabilities --------------------------------------------------------


def test_lone_surrogate_in_capabilities_is_refused_and_disturbs_no_one(live):
    hub, witness = live
    token = pair(hub.ws_url, hub.data_dir, "surrogate-caps")
    c = Client(hub.ws_url)
    reply = c.call({"type": "hello", "token": token, "capabilities": {"battery": LONE}})
    assert reply["type"] == "error" and reply["code"] == "invalid_params", reply
    hello = {"type": "hello", "token": token, "capabilities": {"screen": True, "battery": 0.4}}
    assert c.call(hello)["type"] == "result"
    for caps in ({"note": LONE}, {LONE: True}, {"display": {"width": LONE, "height": 2}}):
        assert c.call({"type": "presence", "active": True, "capabilities": caps})["code"] == "invalid_params"
    assert c.call({"type": "presence", "active": True, "capabilities": {"battery": 0.3}})["type"] == "result"
    listed = devices_json(hub)["surrogate-caps"]
    assert listed["online"] is True and listed["capabilities"] == {"screen": True, "battery": 0.3}
    assert witness.call({"type": "ping"})["type"] == "result"  # still connected: no close, no cut
    c.close()


# -- 2. values the CRDT engine or SQLite cannot hold: one reply, stored, replayed --------------


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "state.append", "doc": "context", "key": "k", "value": LONE},
        {"type": "state.append", "doc": "context", "key": "k", "value": 2**63},
        {"type": "state.append", "doc": "context", "key": "k", "value": {"n": [10**30]}},
        {"type": "state.append", "doc": "context", "key": LONE, "value": 1},
        {"type": "memory.add", "text": "my pin is " + LONE},
        {"type": "memory.list", "limit": 2**64},
        {"type": "chat.send", "text": LONE},
    ],
)
def test_every_request_gets_exactly_one_reply_and_a_replay_gets_the_same(live, payload):
    hub, _ = live
    name = f"values-{abs(hash(json.dumps(payload))) % 10**8}"
    c = device(hub.ws_url, pair(hub.ws_url, hub.data_dir, name))
    first = c.call({**payload, "seq": 1})
    assert first["type"] == "error" and first["code"] == "invalid_params" and first["seq"] == 1, first
    again = c.call({**payload, "seq": 1})  # a replay, as after a reconnect
    assert {k: v for k, v in again.items() if k != "id"} == {k: v for k, v in first.items() if k != "id"}
    assert c.call({"type": "sync.noop", "seq": 2})["type"] == "result"  # the seq moved on
    c.ws.send(json.dumps({"v": 1, "type": "ack", "op_seq": 2}))
    assert c.call({"type": "sync.noop", "seq": 1})["code"] == "seq_already_acked"
    c.close()


def test_a_refused_operations_reply_survives_a_restart(hub):
    token = pair(hub.ws_url, hub.data_dir, "restart")
    c = device(hub.ws_url, token)
    first = c.call({"type": "state.append", "seq": 1, "doc": "context", "key": "k", "value": 10**30})
    c.close()
    hub.restart()
    c = device(hub.ws_url, token)
    again = c.call({"type": "state.append", "seq": 1, "doc": "context", "key": "k", "value": 10**30})
    assert again["code"] == first["code"] == "invalid_params" and again["message"] == first["message"]
    assert c.call({"type": "sync.noop", "seq": 2})["type"] == "result"
    c.close()
    assert "Traceback" not in "".join(hub.output)


# -- 3. a slow reader: bounded memory, 4009 ------------------------------------------------------


def test_a_device_that_reads_nothing_is_closed_4009_and_the_hubs_memory_stays_flat(live):
    hub, witness = live
    filler = device(hub.ws_url, pair(hub.ws_url, hub.data_dir, "filler"))
    for _ in range(12):  # a 3 MB document, incompressible (the WebSocket may deflate)
        value = secrets.token_hex(128 * 1024)
        assert filler.op("state.append", doc="settings", key="bulk", value=value)["type"] == "result"
    filler.close()
    slow = device(hub.ws_url, pair(hub.ws_url, hub.data_dir, "slow-reader"), max_queue=1)
    watch = RssWatch(hub.proc.pid)
    frame = step1_frame("settings")
    sent = 0
    try:
        for _ in range(200):  # 80 a second: under the rate limit; the hub would queue 600 MB
            slow.ws.send(frame)
            sent += 1
            time.sleep(1 / 80)
    except Exception:  # the hub may cut a device that reads nothing before we stop sending
        pass
    growth = watch.stop()
    assert sent >= 10
    assert slow.close_code() == 4009
    # Bounded by sync.max_queued_bytes (8 MiB) per device plus socket buffers, not by what was asked for.
    assert growth < 150 * MB, f"hub RSS grew by {growth / MB:.0f} MB"
    assert witness.call({"type": "ping"})["type"] == "result"


def test_a_non_reading_ping_flood_is_closed_and_memory_stays_flat(live):
    hub, witness = live
    flood = device(hub.ws_url, pair(hub.ws_url, hub.data_dir, "ping-flood"), max_queue=1)
    watch = RssWatch(hub.proc.pid)
    frame = json.dumps({"v": 1, "id": 1, "type": "ping"})
    try:
        for _ in range(50_000):
            flood.ws.send(frame)
    except Exception:
        pass  # closed (4005) while still flooding
    growth = watch.stop()
    assert flood.close_code() == 4005
    assert growth < 100 * MB, f"hub RSS grew by {growth / MB:.0f} MB"


# -- 4. 4005 for a sustained flood, while another device keeps working ---------------------------


def test_a_sustained_flood_gets_4005_and_another_devices_operations_succeed(live):
    hub, witness = live
    flood = device(hub.ws_url, pair(hub.ws_url, hub.data_dir, "flood"))
    codes: list[str] = []
    stop = threading.Event()

    def flooding() -> None:
        try:
            while not stop.is_set():
                flood.ws.send('{"v":1,"id":7,"type":"ping"}')
        except Exception:
            pass

    def reading() -> None:
        try:
            while True:
                frame = flood.ws.recv(30)
                if isinstance(frame, str):
                    codes.append(json.loads(frame).get("code", "ok"))
        except Exception:
            pass

    threads = [threading.Thread(target=flooding), threading.Thread(target=reading)]
    for t in threads:
        t.start()
    try:
        for _ in range(20):  # the witness's operations keep succeeding during the flood
            reply = witness.op("state.append", doc="notifications", key="witness", value=witness.seq + 1)
            assert reply["type"] == "result", reply
    finally:
        threads[1].join(60)
        stop.set()
        threads[0].join(10)
    rcvd = flood.ws.protocol.close_rcvd
    assert rcvd is not None and rcvd.code == 4005
    assert "rate_limited" in codes


# -- 5. pairing: X-Forwarded-For is not trusted by default; --token is accepted at once --------


def test_forwarded_for_does_not_bypass_the_pairing_lockout(hub):
    codes = []
    for i in range(12):
        c = Client(hub.ws_url, additional_headers={"X-Forwarded-For": f"203.0.113.{i}"})
        codes.append(c.call({"type": "hello", "pair": {"code": "ZZZZ-ZZZZ"}})["code"])
        assert c.close_code(10) == 4001
    assert codes[:5] == ["auth_failed"] * 5 and set(codes[5:]) == {"pairing_locked"}


def test_a_token_from_qira_pair_is_accepted_at_once(live):
    hub, _ = live
    made = qira("pair", "--name", "scripted", "--kind", "pc", "--token", "--json", data_dir=hub.data_dir)
    assert made.returncode == 0, made.stderr
    token = json.loads(made.stdout)["token"]
    c = Client(hub.ws_url)  # no waiting for the hub's poll
    reply = c.call({"type": "hello", "token": token})
    assert reply["type"] == "result" and reply["result"]["name"] == "scripted", reply
    c.close()


# -- 6. where the doc and the hub disagreed ------------------------------------------------------


def test_malformed_json_forms_get_bad_json_and_the_connection_stays(live):
    hub, _ = live
    c = device(hub.ws_url, pair(hub.ws_url, hub.data_dir, "malformed"))
    for text in (
        "[" * 1000 + "]" * 1000,
        '{"v":1,"id":3,"type":"ping","x":' + "[" * 5000 + "]" * 5000 + "}",
        '{"v":1,"id":3,"type":"ping","x":NaN}',
        '{"v":1,"id":3,"type":"ping","x":-Infinity}',
        '{"v":1,"id":3,"type":"ping","x":1e999}',
    ):
        c.ws.send(text)
        reply = next_reply(c)
        assert reply["type"] == "error" and reply["code"] == "bad_json" and reply["id"] is None, reply
    assert c.call({"type": "ping"})["type"] == "result"
    c.ws.send(json.dumps({"v": 1, "type": "ack", "hub_seq": 2**63}))
    assert next_reply(c)["code"] == "bad_envelope"
    c.close()
    assert "overflow" not in "".join(hub.output).lower()


def test_a_fragmented_message_over_the_limit_closes_1009_and_bad_utf8_1007(live):
    hub, _ = live
    token = pair(hub.ws_url, hub.data_dir, "fragments")
    c = device(hub.ws_url, token)
    proto = c.ws.protocol
    with c.ws.send_context():
        proto.send_text(b'{"v":1,"id":2,"type":"ping","x":"' + b"a" * 700_000, fin=False)
        proto.send_continuation(b"a" * 700_000, fin=False)
        proto.send_continuation(b'"}', fin=True)
    assert c.close_code() == 1009
    c = device(hub.ws_url, token)
    with c.ws.send_context():
        c.ws.protocol.send_text(b'{"v":1,"id":2,"type":"ping","x":"\xff"}')
    assert c.close_code() == 1007


def test_hello_without_capabilities_keeps_the_stored_ones(live):
    hub, witness = live
    token = pair(hub.ws_url, hub.data_dir, "keeps-caps")
    device(hub.ws_url, token, capabilities={"screen": True, "battery": 0.5}).close()
    witness.events(0.3)
    c = device(hub.ws_url, token)  # no "capabilities" field at all
    seen = [e for e in witness.events(2.0) if e.get("type") == "presence" and e.get("name") == "keeps-caps"]
    assert seen and seen[-1]["online"] is True and seen[-1]["capabilities"] == {"screen": True, "battery": 0.5}
    assert devices_json(hub)["keeps-caps"]["capabilities"] == {"screen": True, "battery": 0.5}
    c.close()


def test_capabilities_are_validated_and_display_is_accepted(live):
    hub, witness = live
    token = pair(hub.ws_url, hub.data_dir, "display")
    c = Client(hub.ws_url)
    assert c.call({"type": "hello", "token": token, "capabilities": {"screen": "yes"}})["code"] == "invalid_params"
    display = {"width": 390, "height": 844, "resizable": True}
    hello = {"type": "hello", "token": token, "capabilities": {"screen": True, "display": display}}
    assert c.call(hello)["type"] == "result"
    assert (
        c.call({"type": "presence", "active": True, "capabilities": {f"sensor{i}": i for i in range(40)}})["code"]
        == "invalid_params"
    )
    blob = {"type": "presence", "active": True, "capabilities": {"blob": "x" * 1000}}
    assert c.call(blob)["code"] == "invalid_params"
    assert devices_json(hub)["display"]["capabilities"]["display"] == display
    c.close()
