"""A device on a real ``qira serve`` uses memory over the WebSocket protocol, as docs/protocol.md says,
while ``qira memory`` writes to the same data directory from another process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import websockets

from qira.sync import SyncStore
from tests._hub import HubProcess

pytestmark = pytest.mark.anyio
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


class Device:
    def __init__(self, ws) -> None:
        self.ws, self.id, self.seq = ws, 0, 0

    async def call(self, type_: str, **payload) -> dict:
        self.id += 1
        frame = {"v": 1, "id": self.id, "type": type_, **payload}
        if type_ != "hello":
            self.seq += 1
            frame["seq"] = self.seq
        await self.ws.send(json.dumps(frame))
        while True:
            reply = json.loads(await self.ws.recv())
            if reply.get("id") == self.id:
                return reply


def cli(data_dir, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "qira.cli", "memory", *args, "--data-dir", str(data_dir), "--json"],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[0])


async def test_device_adds_searches_forgets_and_never_sees_private(tmp_path):
    data = tmp_path / "hub-data"
    hub = HubProcess(data, env={"QIRA_HUB_WARM_UP": "false"}).start()
    try:
        store = SyncStore(data / "sync.db")
        code = store.create_pairing_code("phone", "phone", 600)
        store.close()
        # The CLI, another process, writes to the same store while the hub runs.
        secret = cli(data, "add", "My locker combination is 0451", "--scope", "private")
        shared = cli(data, "add", "The gym closes at 22:00 on weekdays")
        async with websockets.connect(hub.ws_url, max_size=None) as ws:
            phone = Device(ws)
            welcome = await phone.call("hello", pair={"code": code}, resume={"hub_seq": 0}, capabilities={})
            assert welcome["type"] == "result", welcome

            added = await phone.call("memory.add", text="My locker at the gym is number 117")
            assert added["type"] == "result" and added["result"]["action"] == "added", added

            found = await phone.call("memory.search", query="gym locker and opening hours", k=10)
            ids = [h["memory"]["id"] for h in found["result"]["hits"]]
            assert added["result"]["id"] in ids and shared["id"] in ids  # the hub saw the CLI's write
            assert secret["id"] not in ids  # private never leaves the hub
            assert all(h["memory"]["scope"] == "shared" for h in found["result"]["hits"])

            bad = await phone.call("memory.search", query="")
            assert bad["type"] == "error" and bad["code"] == "invalid_params" and bad["message"]
            hidden = await phone.call("memory.forget", memory_id=secret["id"])
            assert hidden["type"] == "error" and hidden["code"] == "not_found"
            event = await phone.call("context.event", kind="activity", value="lifting weights")
            assert event["result"]["scope"] == "shared"
            gone = await phone.call("memory.forget", memory_id=added["result"]["id"])
            assert gone["result"] == {"memory_id": added["result"]["id"], "forgotten": True}
            listed = await phone.call("memory.list")
            assert {m["id"] for m in listed["result"]["memories"]} == {shared["id"], event["result"]["id"]}
        history = cli(data, "history", added["result"]["id"])
        assert history["op"] == "add" and history["actor"] == welcome["result"]["device_id"]
    finally:
        assert hub.stop() == 0
