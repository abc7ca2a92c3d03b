"""Fuzz: malformed frames thrown at a live hub while another device keeps working.

Every reply must be a documented ``error`` (or ``result``), every close a documented
close code, and the witness device's operations and the hub's health must be
unaffected throughout.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from qira.sync import DOC_NAMES, CloseCode, ErrorCode, SyncStore
from qira.sync._wire import write_var_string, write_var_uint
from tests._hub import HubProcess

CODES = {str(c) for c in ErrorCode}
CLOSES = {int(c) for c in CloseCode}


class SyncClient:
    def __init__(self, url: str) -> None:
        self.ws = connect(url, max_size=None, open_timeout=5)
        self.next_id = 1

    def call(self, msg: dict, timeout: float = 5.0) -> dict:
        msg = {"v": 1, "id": self.next_id, **msg}
        self.next_id += 1
        self.ws.send(json.dumps(msg))
        while True:
            frame = self.ws.recv(timeout)
            if isinstance(frame, str):
                reply = json.loads(frame)
                if reply.get("id") == msg["id"] and reply["type"] in ("result", "error"):
                    return reply


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    hub = HubProcess(tmp_path_factory.mktemp("fuzz") / "hub", env={"QIRA_HUB_WARM_UP": "false"}).start()
    store = SyncStore(hub.data_dir / "sync.db")
    codes = {n: store.create_pairing_code(n, "tablet", 600) for n in ("witness", "fuzzer")}
    store.close()
    tokens = {}
    for name, code in codes.items():
        c = SyncClient(hub.ws_url)
        tokens[name] = c.call({"type": "hello", "pair": {"code": code}})["result"]["token"]
        c.ws.close()
    witness = SyncClient(hub.ws_url)
    assert witness.call({"type": "hello", "token": tokens["witness"]})["type"] == "result"
    yield hub, tokens["fuzzer"], witness
    witness.ws.close()
    hub.stop()


SURROGATES = ["\ud800", "\udfff", "\udbff\udbff", "a\udc00b"]  # unpaired: valid JSON escapes, not Unicode text
texts = st.text(max_size=20) | st.builds(
    lambda a, s, b: a + s + b, st.text(max_size=4), st.sampled_from(SURROGATES), st.text(max_size=4)
)
ints = st.integers() | st.sampled_from([2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 10**30, -(10**40)])
floats = st.floats(allow_nan=True, allow_infinity=True)  # json.dumps writes NaN / Infinity, which are not JSON
json_values = st.recursive(
    st.none() | st.booleans() | ints | floats | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=10,
)
deep = st.integers(20, 3000).flatmap(
    lambda n: st.sampled_from(
        [
            "[" * n + "]" * n,
            '{"v":1,"id":3,"type":"ping","x":' + "[" * n + "]" * n + "}",
            '{"v":1,"id":3,"seq":1,"type":"state.append","doc":"context","key":"k","value":'
            + '{"a":' * n
            + "1"
            + "}" * n
            + "}",
        ]
    )
)
envelopes = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            ["hello", "ping", "presence", "ack", "state.append", "sync.noop", "memory.add", "no.such_type", "Bad!", ""]
        )
        | texts
        | st.integers()
    },
    optional={
        "v": st.sampled_from([1, 1, 2, 0, "1", None]),
        "id": ints | st.text(max_size=3),
        "seq": ints | st.booleans() | st.text(max_size=3),
        "token": texts,
        "pair": json_values,
        "hub_seq": json_values,
        "op_seq": json_values,
        "resume": json_values,
        "capabilities": json_values
        | st.fixed_dictionaries(
            {}, optional={"battery": json_values, "screen": json_values, "display": json_values, "x": texts}
        ),
        "active": json_values,
        "doc": st.sampled_from(sorted(DOC_NAMES)) | texts,
        "key": json_values,
        "value": json_values,
        "text": texts,
        "client": texts,
    },
)
text_frames = st.one_of(st.text(max_size=200), json_values.map(json.dumps), envelopes.map(json.dumps), deep)
doc_names = st.sampled_from(sorted(DOC_NAMES)) | st.text(max_size=8)
y_messages = st.one_of(
    st.binary(max_size=60),
    st.tuples(st.integers(0, 3), st.integers(0, 3), st.binary(max_size=60)).map(
        lambda t: write_var_uint(t[0]) + write_var_uint(t[1]) + write_var_uint(len(t[2])) + t[2]
    ),
)
binary_frames = st.one_of(
    st.binary(max_size=200),
    st.tuples(doc_names, y_messages).map(lambda t: b"\x00" + write_var_string(t[0]) + t[1]),
    st.tuples(st.text(max_size=8), st.integers(0, 2**40), st.binary(max_size=64)).map(
        lambda t: b"\x01" + write_var_string(t[0]) + write_var_uint(t[1]) + t[2]
    ),
    st.binary(max_size=8).map(lambda b: b"\x00\x07context" + struct.pack("B", 0) + b),
)


@dataclass(frozen=True)
class Fragmented:
    """One text message sent as several WebSocket frames (continuations), possibly over the limit."""

    text: str
    pieces: int
    pad: int  # bytes of padding inside a JSON string: over max_frame_bytes in total when large


@dataclass(frozen=True)
class SlowRead:
    """Ask for every document ``times`` times without reading any reply (a slow reader)."""

    times: int


fragmented = st.builds(
    Fragmented, envelopes.map(json.dumps), st.integers(2, 6), st.sampled_from([0, 0, 1000, 1_200_000])
)
slow_reads = st.builds(SlowRead, st.integers(1, 30))
frames = st.lists(st.one_of(text_frames, binary_frames, fragmented, slow_reads), min_size=1, max_size=12)


def send(ws, frame) -> None:
    if isinstance(frame, Fragmented):
        body = frame.text.encode("utf-8", "surrogatepass")
        if frame.pad:
            body = b'{"pad":"' + b"p" * frame.pad + b'","m":' + body + b"}"
        step = max(1, len(body) // frame.pieces)
        chunks = [body[i : i + step] for i in range(0, len(body), step)] or [b""]
        with ws.send_context():
            ws.protocol.send_text(chunks[0], fin=len(chunks) == 1)
            for i, chunk in enumerate(chunks[1:], 1):
                ws.protocol.send_continuation(chunk, fin=i == len(chunks) - 1)
    elif isinstance(frame, SlowRead):
        for _ in range(frame.times):
            for name in sorted(DOC_NAMES):
                ws.send(b"\x00" + write_var_string(name) + b"\x00\x00\x01\x00")
    else:
        ws.send(frame)


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(authenticate=st.booleans(), batch=frames)
def test_malformed_frames_get_documented_answers_and_disturb_no_one(live, authenticate, batch):
    hub, token, witness = live
    fuzz = SyncClient(hub.ws_url)
    try:
        if authenticate:
            assert fuzz.call({"type": "hello", "token": token})["type"] == "result"
        for frame in batch:
            send(fuzz.ws, frame)
        fuzz.ws.send(json.dumps({"v": 1, "id": 10**9, "type": "ping"}))
        while True:
            reply = fuzz.ws.recv(5)
            if isinstance(reply, bytes):
                continue  # CRDT sync replies to a (valid) step 1
            msg = json.loads(reply)
            assert msg["v"] == 1 and isinstance(msg["type"], str)
            if msg["type"] == "error":
                assert msg["code"] in CODES, msg
                assert isinstance(msg["message"], str) and msg["message"]
            if msg.get("id") == 10**9:
                break
    except ConnectionClosed:
        rcvd = fuzz.ws.protocol.close_rcvd
        assert rcvd is not None and rcvd.code in CLOSES, rcvd
    finally:
        fuzz.ws.close()
    # The witness keeps working: its operations are applied and answered.
    witness.seq = getattr(witness, "seq", 0) + 1
    reply = witness.call(
        {"type": "state.append", "seq": witness.seq, "doc": "notifications", "key": "witness", "value": witness.seq}
    )
    assert reply["type"] == "result" and reply["seq"] == witness.seq, reply
    assert hub.proc.poll() is None
    assert "Traceback" not in "".join(hub.output)  # every refusal was an answer, not a failure


@pytest.mark.slow
def test_oversized_frame_closes_only_that_connection(live):
    hub, token, witness = live
    fuzz = SyncClient(hub.ws_url)
    fuzz.call({"type": "hello", "token": token})
    fuzz.ws.send(json.dumps({"v": 1, "id": 2, "type": "chat.send", "seq": 1, "text": "x" * (1024 * 1024 + 10)}))
    with pytest.raises(ConnectionClosed):
        while True:
            fuzz.ws.recv(5)
    assert fuzz.ws.protocol.close_rcvd.code == 1009
    assert witness.call({"type": "ping"})["type"] == "result"
    assert hub.health()["status"] == "ok"
