"""The sans-I/O core on its own: frames in, events and frames out, no sockets, no clock."""

from __future__ import annotations

import json

import pytest
from pycrdt import Array, Doc

from qira.sync import ymsg
from qira.sync._wire import CloseCode, decode_binary, encode_audio, encode_doc, read_var_uint, write_var_uint
from qira.sync.protocol import (
    Ack,
    AudioChunk,
    ClientProtocol,
    Close,
    DocMessage,
    Hello,
    HubEvent,
    Limits,
    Operation,
    Phase,
    PresenceUpdate,
    Reply,
    ServerProtocol,
)


def server(**limits) -> ServerProtocol:
    return ServerProtocol(Limits(**limits), now=0.0)


def authed(**limits) -> ServerProtocol:
    proto = server(**limits)
    proto.receive_text(json.dumps({"v": 1, "id": 1, "type": "hello", "token": "t"}), 0.0)
    assert isinstance(proto.events_received()[0], Hello)
    proto.accept(1, {"device_id": "d"})
    proto.data_to_send()
    return proto


def replies(proto: ServerProtocol) -> list[dict]:
    return [json.loads(f) for f in proto.data_to_send() if isinstance(f, str)]


def test_hello_is_the_only_thing_accepted_before_auth():
    proto = server()
    proto.receive_text(json.dumps({"v": 1, "id": 1, "type": "chat.send", "seq": 1, "text": "hi"}), 0.0)
    proto.receive_bytes(encode_doc("context", ymsg.step1(b"\x00")), 0.0)
    assert proto.events_received() == []
    assert [r["code"] for r in replies(proto)] == ["not_authenticated", "not_authenticated"]
    proto.receive_text(
        json.dumps(
            {
                "v": 1,
                "id": 2,
                "type": "hello",
                "pair": {"code": "ABCD-EFGH"},
                "capabilities": {"screen": True},
                "resume": {"hub_seq": 7},
            }
        ),
        0.0,
    )
    [hello] = proto.events_received()
    assert hello == Hello(
        id=2, token=None, pair_code="ABCD-EFGH", capabilities={"screen": True}, resume_hub_seq=7, client=""
    )


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("not json", "bad_json"),
        ("[1, 2]", "bad_json"),
        ('{"id": 1, "type": "hello"}', "bad_envelope"),
        ('{"v": 2, "id": 1, "type": "hello", "token": "t"}', "unsupported_version"),
        ('{"v": 1, "id": 1, "type": 5}', "bad_envelope"),
        ('{"v": 1, "id": "one", "type": "hello", "token": "t"}', "bad_envelope"),
        ('{"v": 1, "id": 1, "type": "hello"}', "bad_envelope"),
        ('{"v": 1, "id": 1, "type": "hello", "token": "t", "pair": {"code": "x"}}', "bad_envelope"),
        ('{"v": 1, "id": 1, "type": "hello", "token": "t", "resume": {"hub_seq": -1}}', "bad_envelope"),
        ('{"v": 1, "id": 1, "type": "Bad Type!"}', "bad_envelope"),
    ],
)
def test_bad_input_before_auth_gets_a_coded_error(message, code):
    proto = server()
    proto.receive_text(message, 0.0)
    assert proto.events_received() == []
    [reply] = replies(proto)
    assert reply["type"] == "error" and reply["code"] == code and reply["message"]
    assert proto.phase is Phase.AUTH


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ({"v": 1, "id": 5, "type": "chat.send", "text": "no seq"}, "bad_envelope"),
        ({"v": 1, "id": 5, "type": "chat.send", "seq": 0}, "bad_envelope"),
        ({"v": 1, "id": 5, "type": "chat.send", "seq": "1"}, "bad_envelope"),
        ({"v": 1, "id": 5, "type": "chat.send", "seq": True}, "bad_envelope"),
        ({"v": 1, "id": 5, "type": "hello", "token": "t"}, "already_authenticated"),
        ({"v": 1, "id": 5, "type": "presence", "active": "yes"}, "bad_envelope"),
        ({"v": 1, "type": "ack", "hub_seq": "x"}, "bad_envelope"),
    ],
)
def test_bad_input_after_auth_gets_a_coded_error(message, code):
    proto = authed()
    proto.receive_text(json.dumps(message), 1.0)
    assert proto.events_received() == []
    [reply] = replies(proto)
    assert reply["code"] == code
    assert reply["id"] == message.get("id")
    assert proto.phase is Phase.OPEN


def test_operations_presence_ack_and_ping():
    proto = authed()
    proto.receive_text('{"v":1,"id":2,"type":"chat.send","seq":1,"text":"hi","thread":"t1"}', 1.0)
    proto.receive_text('{"v":1,"id":3,"type":"presence","active":true,"capabilities":{"battery":0.5}}', 1.0)
    proto.receive_text('{"v":1,"type":"ack","hub_seq":4,"op_seq":1}', 1.0)
    proto.receive_text('{"v":1,"id":4,"type":"ping"}', 1.0)
    assert proto.events_received() == [
        Operation(id=2, seq=1, type="chat.send", payload={"text": "hi", "thread": "t1"}),
        PresenceUpdate(id=3, active=True, capabilities={"battery": 0.5}),
        Ack(hub_seq=4, op_seq=1),
    ]
    assert replies(proto) == [{"v": 1, "id": 4, "type": "result", "result": {}}]


def test_binary_frames_docs_audio_and_garbage():
    proto = authed()
    doc = Doc()
    doc.get("items", type=Array).append("x")
    proto.receive_bytes(encode_doc("reminders", ymsg.update(doc.get_update())), 1.0)
    proto.receive_bytes(encode_audio("mic-1", 3, b"\x01\x02"), 1.0)
    events = proto.events_received()
    assert isinstance(events[0], DocMessage) and events[0].doc == "reminders"
    assert events[0].message.step is ymsg.SyncStep.UPDATE
    assert isinstance(events[1], AudioChunk) and events[1].frame.stream == "mic-1" and events[1].frame.seq == 3
    for bad, code in [
        (b"", "bad_frame"),
        (b"\x07junk", "bad_frame"),
        (encode_doc("nope", ymsg.step1(b"\x00")), "unknown_doc"),
        (encode_doc("context", b"\x00\x09\x01"), "bad_frame"),
        (encode_doc("context", b"\x00\x00\x05ab"), "bad_frame"),
        (encode_doc("context", ymsg.awareness(b"\x01\x01\x01\x03{x}")), "bad_frame"),
        (encode_audio("", 0, b""), "bad_frame"),
    ]:
        proto.receive_bytes(bad, 1.0)
        assert proto.events_received() == []
        [reply] = replies(proto)
        assert reply["code"] == code, bad
    assert proto.phase is Phase.OPEN


def test_rate_limit_errors_then_closes_a_flood():
    proto = authed(messages_per_second=10, burst=5)
    for i in range(5):
        proto.receive_text(f'{{"v":1,"id":{i + 10},"type":"ping"}}', 1.0)
    assert len(replies(proto)) == 5
    proto.receive_text('{"v":1,"id":99,"type":"ping"}', 1.0)
    [limited] = replies(proto)
    assert limited["code"] == "rate_limited" and limited["id"] == 99 and limited["retry_after"] > 0
    proto.receive_text('{"v":1,"id":100,"type":"ping"}', 1.2)  # tokens refilled
    assert replies(proto)[0]["type"] == "result"
    for _ in range(10):
        proto.receive_text('{"v":1,"id":1,"type":"ping"}', 1.2)
    frames = proto.data_to_send()
    assert frames[-1] == Close(code=CloseCode.RATE_LIMITED, reason="rate_limited")
    assert proto.phase is Phase.CLOSED


def test_oversized_frame_closes_with_1009():
    proto = authed(max_frame_bytes=2048)
    proto.receive_text(json.dumps({"v": 1, "id": 2, "type": "x.y", "seq": 1, "blob": "é" * 2000}), 1.0)
    assert proto.data_to_send() == [Close(code=1009, reason="frame over max_frame_bytes")]


def test_auth_and_idle_timeouts():
    proto = server(auth_timeout_s=5, idle_timeout_s=30)
    proto.tick(4.0)
    assert proto.phase is Phase.AUTH
    proto.tick(6.0)
    assert proto.data_to_send() == [Close(code=CloseCode.AUTH_TIMEOUT, reason="auth_timeout")]
    proto = authed(idle_timeout_s=30)
    proto.receive_text('{"v":1,"id":2,"type":"ping"}', 20.0)
    proto.tick(45.0)
    assert proto.phase is Phase.OPEN
    proto.tick(51.0)
    assert proto.data_to_send()[-1] == Close(code=CloseCode.IDLE_TIMEOUT, reason="idle_timeout")


def test_too_many_malformed_frames_close_the_connection():
    proto = authed(max_bad_frames=3)
    for _ in range(4):
        proto.receive_text("nope", 1.0)
    assert proto.data_to_send()[-1] == Close(code=CloseCode.PROTOCOL_VIOLATION, reason="too many malformed frames")


def test_client_and_server_speak_the_same_frames():
    client = ClientProtocol()
    srv = server()
    client.hello(token="tok", capabilities={"screen": False}, resume_hub_seq=3)
    client_frames = client.data_to_send()
    srv.receive_text(client_frames[0], 0.0)
    [hello] = srv.events_received()
    assert hello.token == "tok" and hello.resume_hub_seq == 3
    srv.accept(hello.id, {"device_id": "d1"})
    srv.send_event("notification", {"text": "hi"}, hub_seq=9)
    srv.send_doc("context", ymsg.step1(b"\x00"))
    for frame in srv.data_to_send():
        if isinstance(frame, str):
            client.receive_text(frame)
        else:
            client.receive_bytes(frame)
    reply, event, doc = client.events_received()
    assert reply == Reply(id=1, ok=True, result={"device_id": "d1"})
    assert event == HubEvent(type="notification", hub_seq=9, payload={"text": "hi"})
    assert isinstance(doc, DocMessage) and doc.message.step is ymsg.SyncStep.STEP1
    assert client.phase is Phase.OPEN
    client.operation(1, "memory.add", {"text": "x"})
    srv.receive_text(client.data_to_send()[0], 1.0)
    assert srv.events_received() == [Operation(id=2, seq=1, type="memory.add", payload={"text": "x"})]
    with pytest.raises(ValueError):
        client.operation(2, "chat.send", {"seq": 5})
    with pytest.raises(ValueError):
        client.operation(2, "hello", {})


def test_var_uint_round_trip_and_binary_codec():
    for n in (0, 1, 127, 128, 300, 2**32, 2**53):
        assert read_var_uint(write_var_uint(n), 0) == (n, len(write_var_uint(n)))
    frame = decode_binary(encode_audio("s", 300, b"abc"))
    assert (frame.stream, frame.seq, frame.data) == ("s", 300, b"abc")


def test_y_messages_match_pycrdt():
    import pycrdt

    doc = Doc()
    doc.get("a", type=Array).append(1)
    assert ymsg.step1(doc.get_state()) == pycrdt.create_sync_message(doc)
    assert ymsg.update(doc.get_update()) == pycrdt.create_update_message(doc.get_update())
    parsed = ymsg.parse(pycrdt.create_sync_message(doc))
    assert parsed.step is ymsg.SyncStep.STEP1 and parsed.payload == doc.get_state()
