"""Sync benchmark: the hub's WebSocket path against the floor and against pycrdt-websocket.

    python bench/sync.py --out bench/results/sync.json [--quick]

Side by side, in one run, everything on 127.0.0.1 with each server in its own process:

* echo: round trip of a raw ``websockets`` echo server (the floor);
* fan-out: a Yjs update from one device reaching 2 and 50 others, p50/p99, through
  ``qira serve`` (authenticated, applied to the hub's document, persisted to SQLite)
  and through pycrdt-websocket's ``WebsocketServer``/``YRoom`` (in memory), with the
  same raw y-protocols clients on both;
* acked operations per second from one device (the reference ``DeviceSession``:
  durable outbox on the device, exactly-once ledger on the hub);
* concurrent devices held with heartbeats;
* the chaos run of ``tests/e2e/test_sync_chaos.py`` with more rounds (each one
  SIGKILLs the hub): its checks pass or the benchmark fails;
* abuse (``bench/_abuse.py``): a well-behaved device's operation p99 quiet and while
  another device floods pings, reads nothing while asking for the largest document, or
  sends malformed frames; the hub's RSS growth (``--only abuse`` runs just this).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import websockets

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _abuse import abuse_section, abuser  # noqa: E402
from _report import emit  # noqa: E402  (bench/ is on sys.path when run as a script)
from pycrdt import Array, Doc, create_update_message  # noqa: E402

from device_adapters import DeviceSession  # noqa: E402
from qira.sync import (
    SyncStore,  # noqa: E402
    ymsg,  # noqa: E402
)
from qira.sync._wire import encode_doc  # noqa: E402
from tests._hub import HubProcess  # noqa: E402

HUB_ENV = {
    "QIRA_HUB_WARM_UP": "false",
    "QIRA_SYNC_MESSAGES_PER_SECOND": "1000000",
    "QIRA_SYNC_BURST": "1000000",
    "QIRA_HUB_LOG_LEVEL": "warning",
}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(x: float) -> float:
    return round(x * 1000, 3)


# -- the two reference servers, each run as a child process of this script --------


async def serve_echo() -> None:
    from websockets.asyncio.server import serve

    async def echo(ws: Any) -> None:
        async for message in ws:
            await ws.send(message)

    async with serve(echo, "127.0.0.1", 0, compression=None) as server:
        print("PORT", server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()


async def serve_asgi_echo() -> None:
    """The same echo through the hub's stack (uvicorn websockets-sansio + Starlette)."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute

    from qira.hub import bind_socket

    async def echo(ws: Any) -> None:
        await ws.accept()
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            await ws.send_bytes(message.get("bytes") or b"")

    sock = bind_socket("127.0.0.1", 0)
    print("PORT", sock.getsockname()[1], flush=True)
    server = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=[WebSocketRoute("/", echo)]), ws="websockets-sansio", lifespan="off", log_config=None
        )
    )
    await server.serve(sockets=[sock])


async def serve_pycrdt_websocket() -> None:
    from pycrdt.websocket import WebsocketServer
    from websockets.asyncio.server import serve

    class Channel:
        """websockets 17 -> pycrdt Channel (the path moved to ``request.path``)."""

        def __init__(self, ws: Any) -> None:
            self.ws = ws
            self.path = ws.request.path

        def __aiter__(self) -> Channel:
            return self

        async def __anext__(self) -> bytes:
            try:
                return await self.recv()
            except websockets.exceptions.ConnectionClosed:
                raise StopAsyncIteration() from None

        async def send(self, message: bytes) -> None:
            await self.ws.send(message)

        async def recv(self) -> bytes:
            return bytes(await self.ws.recv())

    async with WebsocketServer(log=None) as ystore_server:

        async def handler(ws: Any) -> None:
            await ystore_server.serve(Channel(ws))

        async with serve(handler, "127.0.0.1", 0, compression=None, max_size=None) as server:
            print("PORT", server.sockets[0].getsockname()[1], flush=True)
            await asyncio.Future()


def child(mode: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen([sys.executable, __file__, "--serve", mode], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    return proc, int(line.split()[1])


# -- measurements ----------------------------------------------------------------


async def echo_rtt(port: int, n: int) -> list[float]:
    async with websockets.connect(f"ws://127.0.0.1:{port}", compression=None) as ws:
        samples = []
        for i in range(n + 100):
            t0 = time.perf_counter()
            await ws.send(b"x" * 32)
            await ws.recv()
            if i >= 100:
                samples.append(time.perf_counter() - t0)
        return samples


class Receivers:
    """Counts y-protocols update messages per receiver; sample k is done when every receiver has k."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.arrivals: list[list[float]] = [[] for _ in range(count)]
        self.done = asyncio.Event()
        self.expect = 0

    def arrived(self, i: int) -> None:
        self.arrivals[i].append(time.perf_counter())
        if all(len(a) >= self.expect for a in self.arrivals):
            self.done.set()


async def fanout(connect_sender, connect_receiver, is_update, wrap, receivers: int, samples: int) -> list[float]:
    rx = Receivers(receivers)
    sockets = [await connect_receiver(i) for i in range(receivers)]

    async def pump(i: int, ws: Any) -> None:
        async for frame in ws:
            if isinstance(frame, bytes) and is_update(frame):
                rx.arrived(i)

    tasks = [asyncio.ensure_future(pump(i, ws)) for i, ws in enumerate(sockets)]
    sender = await connect_sender()
    await asyncio.sleep(0.3)
    doc = Doc()
    items = doc.get("bench", type=Array)
    updates: list[bytes] = []
    doc.observe(lambda e: updates.append(e.update))
    latencies: list[float] = []
    for k in range(samples + 20):
        rx.expect = k + 1
        rx.done.clear()
        items.append(k)
        frame = wrap(updates.pop())
        t0 = time.perf_counter()
        await sender.send(frame)
        await asyncio.wait_for(rx.done.wait(), 10)
        if k >= 20:
            latencies.extend(a[k] - t0 for a in rx.arrivals)
    for t in tasks:
        t.cancel()
    for ws in [sender, *sockets]:
        await ws.close()
    return latencies


async def qira_client(url: str, code: str, docs: tuple[str, ...] = ("context",)) -> Any:
    ws = await websockets.connect(url, compression=None, max_size=None)
    await ws.send(json.dumps({"v": 1, "id": 1, "type": "hello", "pair": {"code": code}, "capabilities": {}}))
    reply = json.loads(await ws.recv())
    assert reply["type"] == "result", reply
    for doc in docs:
        await ws.send(encode_doc(doc, ymsg.step1(b"\x00")))
    return ws


def codes(hub: HubProcess, prefix: str, n: int) -> list[str]:
    store = SyncStore(hub.data_dir / "sync.db")
    try:
        return [store.create_pairing_code(f"{prefix}-{i}", "tablet", 600) for i in range(n)]
    finally:
        store.close()


async def qira_fanout(hub: HubProcess, receivers: int, samples: int) -> list[float]:
    c = codes(hub, f"fan{receivers}", receivers + 1)
    return await fanout(
        lambda: qira_client(hub.ws_url, c[-1]),
        lambda i: qira_client(hub.ws_url, c[i]),
        lambda f: f[0] == 0 and f[9:11] == b"\x00\x02",  # doc frame "context", sync update
        lambda u: encode_doc("context", ymsg.update(u)),
        receivers,
        samples,
    )


async def ypy_fanout(port: int, receivers: int, samples: int) -> list[float]:
    url = f"ws://127.0.0.1:{port}/bench-{receivers}"

    async def connect(_i: int = 0) -> Any:
        return await websockets.connect(url, compression=None, max_size=None)

    return await fanout(connect, connect, lambda f: f[:2] == b"\x00\x02", create_update_message, receivers, samples)


async def acked_ops(hub: HubProcess, tmp: Path, n: int, type_: str, payload: dict[str, Any]) -> float:
    [code] = codes(hub, f"ops-{type_}", 1)
    s = DeviceSession(hub.ws_url, name=f"ops-{type_}-0", kind="pc", state_dir=tmp / f"ops-{type_}", pair_code=code)
    s.start()
    await s.wait_ready()
    await s.request(type_, payload)
    t0 = time.perf_counter()
    futures = [s.submit(type_, payload) for _ in range(n)]
    replies = await asyncio.gather(*futures)
    elapsed = time.perf_counter() - t0
    assert all(r.ok for r in replies)
    await s.close()
    return n / elapsed


async def held_devices(hub: HubProcess, n: int, hold_s: float) -> dict[str, Any]:
    c = codes(hub, f"held{n}", n)
    sockets = []
    for i in range(0, n, 50):
        sockets += await asyncio.gather(*(qira_client(hub.ws_url, code, ()) for code in c[i : i + 50]))
    rtts: list[float] = []

    async def heartbeat(ws: Any) -> bool:
        next_id = 2
        deadline = time.perf_counter() + hold_s
        try:
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                await ws.send(json.dumps({"v": 1, "id": next_id, "type": "ping"}))
                while True:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    if msg.get("id") == next_id:
                        break
                if next_id > 2:  # the first beat queues behind the connect storm's presence events
                    rtts.append(time.perf_counter() - t0)
                next_id += 1
                await asyncio.sleep(1.0)
            return True
        except (TimeoutError, websockets.exceptions.ConnectionClosed):
            return False

    alive = await asyncio.gather(*(heartbeat(ws) for ws in sockets))
    for ws in sockets:
        await ws.close()
    return {
        "devices": n,
        "held": sum(alive),
        "heartbeat_p50_ms": ms(pct(rtts, 0.5)),
        "heartbeat_p99_ms": ms(pct(rtts, 0.99)),
    }


async def chaos(tmp: Path, rounds: int) -> dict[str, Any]:
    import random

    from tests.e2e.test_sync_chaos import _chaos

    t0 = time.perf_counter()
    await _chaos(tmp / "chaos", rounds, random.Random(rounds))
    return {"rounds": rounds, "hub_kills": rounds, "passed": True, "seconds": round(time.perf_counter() - t0, 1)}


async def run(quick: bool, chaos_rounds: int) -> dict[str, Any]:
    samples = 100 if quick else 300
    result: dict[str, Any] = {"benchmark": "sync", "cpus": os.cpu_count()}
    echo_proc, echo_port = child("echo")
    ypy_proc, ypy_port = child("pycrdt-websocket")
    asgi_proc, asgi_port = child("asgi-echo")
    tmp = Path(tempfile.mkdtemp(prefix="qira-bench-sync-"))
    hub = HubProcess(tmp / "hub", env={**HUB_ENV, "QIRA_SYNC_PING_INTERVAL_S": "5"}).start()
    try:
        echo = await echo_rtt(echo_port, samples * 5)
        result["echo_rtt_p50_ms"], result["echo_rtt_p99_ms"] = ms(pct(echo, 0.5)), ms(pct(echo, 0.99))
        print(
            f"echo round trip          p50 {ms(pct(echo, 0.5)):7.3f} ms  p99 {ms(pct(echo, 0.99)):7.3f} ms", flush=True
        )
        asgi = await echo_rtt(asgi_port, samples * 5)
        result["asgi_echo_rtt_p50_ms"] = ms(pct(asgi, 0.5))
        print(f"echo via uvicorn+Starlette p50 {ms(pct(asgi, 0.5)):7.3f} ms (the hub's own stack)", flush=True)
        for n in (2, 50):
            q = await qira_fanout(hub, n, samples if n == 2 else samples // 3)
            y = await ypy_fanout(ypy_port, n, samples if n == 2 else samples // 3)
            result[f"fanout_{n}"] = {
                "qira_p50_ms": ms(pct(q, 0.5)),
                "qira_p99_ms": ms(pct(q, 0.99)),
                "pycrdt_websocket_p50_ms": ms(pct(y, 0.5)),
                "pycrdt_websocket_p99_ms": ms(pct(y, 0.99)),
                "qira_p50_over_echo_rtt": round(pct(q, 0.5) / pct(echo, 0.5), 2),
                "qira_p50_over_asgi_echo_rtt": round(pct(q, 0.5) / pct(asgi, 0.5), 2),
                "qira_p50_over_pycrdt_websocket": round(pct(q, 0.5) / pct(y, 0.5), 2),
            }
            print(
                f"fan-out to {n:2d}  qira     p50 {ms(pct(q, 0.5)):7.3f} ms  p99 {ms(pct(q, 0.99)):7.3f} ms", flush=True
            )
            print(
                f"fan-out to {n:2d}  pycrdt-ws p50 {ms(pct(y, 0.5)):7.3f} ms  p99 {ms(pct(y, 0.99)):7.3f} ms",
                flush=True,
            )
        n_ops = 5000 if quick else 20000
        result["acked_ops_per_s"] = round(await acked_ops(hub, tmp, n_ops, "sync.noop", {}))
        print(f"acked ops/s (sync.noop, durable outbox)   {result['acked_ops_per_s']:8d}", flush=True)
        result["acked_state_append_per_s"] = round(
            await acked_ops(hub, tmp, n_ops // 2, "state.append", {"doc": "threads", "key": "bench", "value": 1})
        )
        print(f"acked ops/s (state.append, CRDT + SQLite) {result['acked_state_append_per_s']:8d}", flush=True)
        held = []
        for n in (200,) if quick else (200, 500):
            h = await held_devices(hub, n, 6 if quick else 12)
            held.append(h)
            print(
                f"held {h['held']}/{n} devices, heartbeat p50 {h['heartbeat_p50_ms']} ms p99 {h['heartbeat_p99_ms']} ms",
                flush=True,
            )
        result["held"] = held
        result["max_devices_held"] = max((h["devices"] for h in held if h["held"] == h["devices"]), default=0)
        if chaos_rounds:
            result["chaos"] = await chaos(tmp, chaos_rounds)
            print(
                f"chaos: {chaos_rounds} hub kills, every acked op exactly once, replicas equal "
                f"({result['chaos']['seconds']} s)",
                flush=True,
            )
        result["abuse"] = await abuse_section(tmp, quick)
    finally:
        hub.stop()
        for proc in (echo_proc, ypy_proc, asgi_proc):
            proc.terminate()
            proc.wait(10)
    f2, f50 = result["fanout_2"], result["fanout_50"]
    result["targets"] = {
        "fanout_p50_le_2x_echo": f2["qira_p50_over_echo_rtt"] <= 2.0,
        "acked_ops_ge_5000": result["acked_ops_per_s"] >= 5000,
        "held_200": result["max_devices_held"] >= 200,
        "not_slower_than_pycrdt_websocket": f2["qira_p50_over_pycrdt_websocket"] <= 1.0
        and f50["qira_p50_over_pycrdt_websocket"] <= 1.0,
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    parser.add_argument("--chaos-rounds", type=int, default=None, help="chaos rounds (default 50, 0 to skip)")
    parser.add_argument("--serve", choices=["echo", "asgi-echo", "pycrdt-websocket"], help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=["abuse"], help="run one section")
    parser.add_argument("--abuser", nargs=3, metavar=("KIND", "URL", "TOKEN"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.abuser:
        return abuser(*args.abuser)
    if args.only == "abuse":
        tmp = Path(tempfile.mkdtemp(prefix="qira-bench-abuse-"))
        return emit(
            {"benchmark": "sync", "cpus": os.cpu_count(), "abuse": asyncio.run(abuse_section(tmp, args.quick))},
            args.out,
        )
    if args.serve == "echo":
        return asyncio.run(serve_echo())
    if args.serve == "asgi-echo":
        return asyncio.run(serve_asgi_echo())
    if args.serve == "pycrdt-websocket":
        return asyncio.run(serve_pycrdt_websocket())
    rounds = args.chaos_rounds if args.chaos_rounds is not None else (0 if args.quick else 50)
    result = asyncio.run(run(args.quick, rounds))
    emit(result, args.out)


if __name__ == "__main__":
    main()
