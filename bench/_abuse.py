"""The "abuse" section of bench/sync.py (issue 9): a well-behaved device's operations, quiet and
while another device (a) floods pings at full speed, (b) reads nothing while asking for the
largest document, (c) sends malformed frames. Each abuser runs in its own process and
reconnects whenever the hub closes it, so the abuse is sustained for the whole measurement.

    python bench/sync.py --only abuse --out bench/results/sync-abuse.json
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import websockets

from tests._hub import HubProcess
from tests.e2e._abuse import RssWatch, device, pair, rss_bytes, step1_frame

MB = 1024 * 1024
ABUSERS = ("ping-flood", "slow-reader", "malformed")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- the abusers (child processes: `python bench/sync.py --abuser KIND URL TOKEN`) ------------------


def _malformed_frames() -> list[str | bytes]:
    deep = "[" * 2000 + "]" * 2000
    return [
        "{not json",
        deep,
        '{"v":1,"id":1,"type":"ping","x":NaN}',
        '{"v":1,"id":"x","type":"ping"}',
        json.dumps({"v": 1, "id": 2, "type": "presence", "capabilities": {"battery": "\ud800"}}),
        json.dumps({"v": 1, "id": 3, "type": "ack", "hub_seq": 2**64}),
        b"\x07garbage",
        b"\x00\x03bad\x09\x09",
    ]


def abuser(kind: str, url: str, token: str) -> None:
    """Abuse the hub until killed; reconnect after every close."""
    frames = _malformed_frames()
    while True:
        try:
            c = device(url, token, max_queue=1 if kind != "malformed" else 16)
        except Exception:
            time.sleep(0.05)
            continue
        try:
            if kind == "ping-flood":
                ping = '{"v":1,"id":9,"type":"ping"}'
                while True:
                    c.ws.send(ping)
            elif kind == "slow-reader":
                frame = step1_frame("settings")
                while True:
                    c.ws.send(frame)
                    time.sleep(1 / 80)  # under the rate limit: only the reading is missing
            else:
                i = 0
                while True:
                    c.ws.send(frames[i % len(frames)])
                    i += 1
                    if i % 40 == 0:
                        with contextlib.suppress(TimeoutError):
                            while True:
                                c.ws.recv(0)  # read what came back, as a (broken) client would
        except Exception:
            pass
        finally:
            c.close()


# -- the measurement ---------------------------------------------------------------------------


async def _ops(url: str, token: str, n: int, rate: float) -> tuple[list[float], int]:
    """``n`` operations at ``rate`` per second from a well-behaved device: round trips, disconnections."""
    times: list[float] = []
    drops = 0
    ws = await websockets.connect(url, max_size=None, compression=None)
    await ws.send(json.dumps({"v": 1, "id": 1, "type": "hello", "token": token}))
    hello = json.loads(await ws.recv())
    seq = hello["result"]["last_seq"]
    try:
        for i in range(n):
            seq += 1
            t0 = time.perf_counter()
            try:
                await ws.send(json.dumps({"v": 1, "id": i + 2, "seq": seq, "type": "sync.noop"}))
                while True:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 30))
                    if msg.get("id") == i + 2:
                        break
                times.append(time.perf_counter() - t0)
                await ws.send(json.dumps({"v": 1, "type": "ack", "op_seq": seq}))
            except websockets.ConnectionClosed:
                drops += 1
                ws = await websockets.connect(url, max_size=None, compression=None)
                await ws.send(json.dumps({"v": 1, "id": 1, "type": "hello", "token": token}))
                seq = json.loads(await ws.recv())["result"]["last_seq"]
            await asyncio.sleep(max(0.0, 1 / rate - (time.perf_counter() - t0)))
    finally:
        await ws.close()
    return times, drops


async def abuse_section(tmp: Path, quick: bool) -> dict[str, Any]:
    n = 150 if quick else 400
    hub = HubProcess(tmp / "abuse-hub", env={"QIRA_HUB_WARM_UP": "false", "QIRA_HUB_LOG_LEVEL": "warning"}).start()
    out: dict[str, Any] = {"operations_per_scenario": n, "rate_per_s": 50}
    try:
        good = pair(hub.ws_url, hub.data_dir, "well-behaved")
        filler = device(hub.ws_url, pair(hub.ws_url, hub.data_dir, "filler"))
        for _ in range(12):  # the largest document: 3 MB of incompressible text in `settings`
            filler.op("state.append", doc="settings", key="bulk", value=secrets.token_hex(128 * 1024))
        filler.close()
        tokens = {kind: pair(hub.ws_url, hub.data_dir, kind) for kind in ABUSERS}
        await _ops(hub.ws_url, good, 50, 50)  # warm the path
        quiet, _ = await _ops(hub.ws_url, good, n, 50)
        out["quiet"] = {"p50_ms": round(pct(quiet, 0.5) * 1000, 2), "p99_ms": round(pct(quiet, 0.99) * 1000, 2)}
        print(
            f"abuse: quiet              p50 {out['quiet']['p50_ms']:7.2f} ms  p99 {out['quiet']['p99_ms']:7.2f} ms",
            flush=True,
        )
        for kind in ABUSERS:
            base = rss_bytes(hub.proc.pid)
            child = subprocess.Popen(
                [sys.executable, __file__.replace("_abuse.py", "sync.py"), "--abuser", kind, hub.ws_url, tokens[kind]],
                env={**os.environ, "PYTHONPATH": os.getcwd()},
            )
            try:
                await asyncio.sleep(1.0)
                watch = RssWatch(hub.proc.pid)
                times, drops = await _ops(hub.ws_url, good, n, 50)
                watch.stop()
            finally:
                child.kill()
                child.wait(10)
            p99 = pct(times, 0.99)
            row = {
                "p50_ms": round(pct(times, 0.5) * 1000, 2),
                "p99_ms": round(p99 * 1000, 2),
                "p99_over_quiet": round(p99 / pct(quiet, 0.99), 2),
                "well_behaved_disconnections": drops,
                "hub_rss_growth_mb": round((watch.peak - base) / MB, 1),
            }
            out[kind] = row
            print(
                f"abuse: {kind:<18} p50 {row['p50_ms']:7.2f} ms  p99 {row['p99_ms']:7.2f} ms  "
                f"(x{row['p99_over_quiet']} quiet)  drops {drops}  RSS +{row['hub_rss_growth_mb']} MB",
                flush=True,
            )
    finally:
        hub.stop()
    out["targets"] = {
        "p99_le_5x_quiet": all(out[k]["p99_over_quiet"] <= 5 for k in ABUSERS),
        "p99_le_100ms": all(out[k]["p99_ms"] <= 100 for k in ABUSERS),
        "no_well_behaved_disconnection": all(out[k]["well_behaved_disconnections"] == 0 for k in ABUSERS),
        "rss_growth_le_50mb": all(out[k]["hub_rss_growth_mb"] <= 50 for k in ABUSERS),
    }
    return out
