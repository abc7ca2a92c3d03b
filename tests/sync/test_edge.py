"""The protocol core's edge rules (issue 9), frames in and frames out: text the hub cannot
store or relay, numbers outside what SQLite and the CRDT engine hold, deep nesting,
capabilities, floods."""

from __future__ import annotations

import json

import pytest

from qira.sync._values import MAX_DEPTH, capabilities_problem, loads, value_problem
from qira.sync.protocol import ClientProtocol, Close, Hello, Limits, Operation, PresenceUpdate, ServerProtocol

LONE = "\ud800"  # an unpaired UTF-16 surrogate: valid JSON ("\ud800"), not valid Unicode text


def authed(**limits) -> ServerProtocol:
    proto = ServerProtocol(Limits(**limits), now=0.0)
    proto.receive_text(json.dumps({"v": 1, "id": 1, "type": "hello", "token": "t"}), 0.0)
    assert isinstance(proto.events_received()[0], Hello)
    proto.accept(1, {"device_id": "d"})
    proto.data_to_send()
    return proto


def out(proto: ServerProtocol) -> list[dict]:
    return [json.loads(f) for f in proto.data_to_send() if isinstance(f, str)]


@pytest.mark.parametrize(
    "where",
    [
        {"text": LONE},
        {"text": "ok" + LONE + "ok"},
        {LONE: 1},
        {"value": {"nested": [1, {"k": LONE}]}},
        {"value": [LONE]},
        {"doc": "context", "key": LONE, "value": 1},
    ],
)
def test_operations_with_unpaired_surrogates_take_their_seq_and_are_refused(where):
    proto = authed()
    proto.receive_text(json.dumps({"v": 1, "id": 5, "seq": 1, "type": "state.append", **where}), 0.0)
    [op] = proto.events_received()
    assert isinstance(op, Operation) and op.seq == 1
    assert op.refused and "surrogate" in op.refused  # the owner stores invalid_params as this seq's reply
    assert out(proto) == []


@pytest.mark.parametrize("number", [2**63, -(2**63) - 1, 10**30])
def test_integers_past_64_bits_are_refused_in_payloads_and_envelopes(number):
    proto = authed()
    proto.receive_text(json.dumps({"v": 1, "id": 5, "seq": 1, "type": "state.append", "value": [number]}), 0.0)
    [op] = proto.events_received()
    assert op.refused and "64-bit" in op.refused
    proto.receive_text(json.dumps({"v": 1, "id": 6, "seq": number, "type": "sync.noop"}), 0.0)
    proto.receive_text(json.dumps({"v": 1, "type": "ack", "hub_seq": number}), 0.0)
    proto.receive_text(json.dumps({"v": 1, "id": number, "type": "ping"}), 0.0)
    assert proto.events_received() == []
    assert [r["code"] for r in out(proto)] == ["bad_envelope"] * 3
    ok = 2**63 - 1
    proto.receive_text(json.dumps({"v": 1, "id": ok, "seq": 2, "type": "sync.noop", "value": [ok, -(2**63)]}), 0.0)
    [op] = proto.events_received()
    assert op.refused is None and op.id == ok


PING = '{"v": 1, "id": 1, "type": "ping", "x": '


@pytest.mark.parametrize(
    "text",
    [
        PING + "NaN}",
        PING + "Infinity}",
        PING + "-Infinity}",
        PING + "1e400}",
        "[" * 1000 + "]" * 1000,
        '{"a":' * 5000 + "1" + "}" * 5000,
        PING + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "}",
    ],
)
def test_nan_infinity_and_deep_nesting_are_bad_json(text):
    proto = authed()
    proto.receive_text(text, 0.0)
    assert proto.events_received() == []
    [reply] = out(proto)
    assert reply["code"] == "bad_json" and reply["id"] is None
    assert proto.close_code is None


def test_nesting_within_the_limit_is_fine():
    value = 1
    for _ in range(MAX_DEPTH - 2):
        value = [value]
    assert loads(json.dumps({"value": value})) == {"value": value}
    assert value_problem({"value": value}) is None


@pytest.mark.parametrize(
    ("caps", "ok"),
    [
        ({"screen": True, "battery": 0.5, "worn": False, "future_sensor": "on"}, True),
        ({"battery": None, "display": {"width": 390, "height": 844, "resizable": True}}, True),
        ({"display": {"width": 1920.5, "height": 1080}}, True),
        ({"display": None}, True),
        ({"screen": "yes"}, False),
        ({"battery": 1.5}, False),
        ({"battery": True}, False),
        ({"display": {"width": 0, "height": 10, "resizable": True}}, False),
        ({"display": {"width": 10, "height": 10, "resizable": "no"}}, False),
        ({"display": "390x844"}, False),
        ({f"k{i}": 1 for i in range(33)}, False),
        ({"x" * 65: 1}, False),
        ({"blob": "x" * 300}, False),
    ],
)
def test_capabilities_are_typed_and_bounded(caps, ok):
    assert (capabilities_problem(caps) is None) is ok
    proto = authed()
    proto.receive_text(json.dumps({"v": 1, "id": 2, "type": "presence", "active": True, "capabilities": caps}), 0.0)
    events, replies = proto.events_received(), out(proto)
    if ok:
        assert events == [PresenceUpdate(id=2, active=True, capabilities=caps)] and replies == []
    else:
        assert events == [] and [r["code"] for r in replies] == ["invalid_params"]
    hello = ServerProtocol(Limits(), now=0.0)
    hello.receive_text(json.dumps({"v": 1, "id": 1, "type": "hello", "token": "t", "capabilities": caps}), 0.0)
    assert bool(hello.events_received()) is ok


def test_hello_with_a_bad_string_is_refused_and_may_be_retried():
    proto = ServerProtocol(Limits(), now=0.0)
    hello = {"v": 1, "id": 1, "type": "hello", "token": "t", "capabilities": {"battery": LONE}}
    proto.receive_text(json.dumps(hello), 0.0)
    assert proto.events_received() == []
    assert [r["code"] for r in out(proto)] == ["invalid_params"]
    proto.receive_text(json.dumps({"v": 1, "id": 2, "type": "hello", "token": "t", "client": "x" + LONE}), 0.0)
    assert [r["code"] for r in out(proto)] == ["invalid_params"]
    proto.receive_text(json.dumps({"v": 1, "id": 3, "type": "hello", "token": "t"}), 0.0)
    [hello] = proto.events_received()
    assert hello.capabilities is None  # not sent: the hub keeps what it knew


def test_a_sustained_flood_is_closed_although_the_bucket_refills():
    # 400 burst, 100/s: a device sending 2000 messages a second gets a token every
    # 10 ms, which used to reset the "refused in a row" count for ever.
    proto = authed(messages_per_second=100.0, burst=400)
    now, sent = 0.0, 0
    while proto.close_code is None and sent < 20_000:
        proto.receive_text('{"v":1,"id":9,"type":"ping"}', now)
        now += 0.0005
        sent += 1
    assert proto.close_code == 4005
    frames = proto.data_to_send()
    assert isinstance(frames[-1], Close) and frames[-1].code == 4005
    assert now < 2.0  # closed within the first second or so of flooding


def test_a_device_that_honours_retry_after_is_never_closed():
    proto = authed(messages_per_second=100.0, burst=40)
    now = 0.0
    for _ in range(3000):
        proto.receive_text('{"v":1,"id":9,"type":"ping"}', now)
        replies = out(proto)
        limited = [r for r in replies if r["code" if "code" in r else "type"] == "rate_limited"]
        now += limited[0]["retry_after"] if limited else 0.001
    assert proto.close_code is None


def test_not_authenticated_counts_as_malformed():
    proto = ServerProtocol(Limits(max_bad_frames=5), now=0.0)
    for i in range(6):
        proto.receive_text(json.dumps({"v": 1, "id": i, "type": "ping"}), 0.0)
    assert proto.close_code == 4006


def test_the_client_refuses_what_the_hub_would():
    client = ClientProtocol()
    with pytest.raises(ValueError, match="surrogate"):
        client.operation(1, "memory.add", {"text": LONE})
    with pytest.raises(ValueError, match="64-bit"):
        client.operation(1, "state.append", {"doc": "context", "key": "k", "value": 2**64})
    with pytest.raises(ValueError):
        client.presence(active=True, capabilities={"battery": 2})
    client.hello(token="t")
    assert "capabilities" not in json.loads(client.data_to_send()[0])
