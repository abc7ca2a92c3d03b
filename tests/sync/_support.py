"""Helpers for sync tests: an in-process SyncServer on a real loopback port, raw clients, pairing."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import uvicorn
import websockets
from starlette.applications import Starlette

from qira.config import SyncConfig
from qira.hub import bind_socket
from qira.sync import SyncServer, SyncStore
from qira.sync.transport import HubWebSocketProtocol


@contextlib.asynccontextmanager
async def inproc_hub(data_dir: Path, **sync: Any) -> AsyncIterator[tuple[SyncServer, str]]:
    """A SyncServer served by uvicorn (same settings as the hub) on 127.0.0.1, port 0."""
    config = SyncConfig(**sync)
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    server = SyncServer(config, data_dir)
    await server.start()
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    uv = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=server.routes),
            ws=HubWebSocketProtocol,
            ws_max_size=config.max_frame_bytes,
            ws_ping_interval=config.ping_interval_s,
            ws_ping_timeout=config.idle_timeout_s,
            lifespan="off",
            log_config=None,
            proxy_headers=False,
        )
    )
    uv.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.ensure_future(uv.serve(sockets=[sock]))
    while not uv.started:
        await asyncio.sleep(0.01)
    try:
        yield server, f"ws://127.0.0.1:{port}/ws"
    finally:
        await server.stop()
        uv.should_exit = True
        await task
        sock.close()


def pair_code(data_dir: Path, name: str, kind: str = "tablet", ttl_s: float = 600) -> str:
    store = SyncStore(Path(data_dir) / "sync.db")
    try:
        return store.create_pairing_code(name, kind, ttl_s)
    finally:
        store.close()


class RawClient:
    """A device written from docs/protocol.md with nothing but websockets and json."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.next_id = 1

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(cls, url: str) -> AsyncIterator[RawClient]:
        async with websockets.connect(url, max_size=None) as ws:
            yield cls(ws)

    async def send(self, msg: dict[str, Any]) -> int:
        if "id" not in msg and msg.get("type") != "ack":
            msg = {"id": self.next_id, **msg}
            self.next_id += 1
        await self.ws.send(json.dumps({"v": 1, **msg}))
        return msg.get("id", 0)

    async def recv(self, timeout: float = 5.0) -> Any:
        frame = await asyncio.wait_for(self.ws.recv(), timeout)
        return json.loads(frame) if isinstance(frame, str) else frame

    async def recv_json(self, timeout: float = 5.0, *, skip_binary: bool = True) -> dict[str, Any]:
        while True:
            frame = await self.recv(timeout)
            if isinstance(frame, dict) or not skip_binary:
                return frame

    async def call(self, msg: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        id = await self.send(msg)
        while True:
            reply = await self.recv_json(timeout)
            if reply.get("id") == id and reply["type"] in ("result", "error"):
                return reply

    async def hello(self, *, token: str | None = None, code: str | None = None, hub_seq: int = 0) -> dict[str, Any]:
        msg: dict[str, Any] = {"type": "hello", "resume": {"hub_seq": hub_seq}, "capabilities": {"screen": True}}
        msg.update({"token": token} if token else {"pair": {"code": code}})
        return await self.call(msg)

    async def closed_with(self, timeout: float = 5.0) -> int | None:
        with contextlib.suppress(websockets.exceptions.ConnectionClosed):
            while True:
                await asyncio.wait_for(self.ws.recv(), timeout)
        rcvd = self.ws.protocol.close_rcvd
        return rcvd.code if rcvd is not None else None
