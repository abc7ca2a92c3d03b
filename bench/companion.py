"""The companion web app, measured in a real browser (Debian's chromium through Playwright).

    python bench/companion.py --out bench/results/companion.json [--turns 20] [--loads 5]

1. delta to screen: a scripted streaming model (an OpenAI-compatible SSE endpoint of
   our own on 127.0.0.1 that notes when it writes each token) answers turns of a thread
   that a Python device (``DeviceSession``) and the browser both take part in, so every
   ``chat.delta`` goes to both. Per delta: model write -> text painted in the browser
   (a MutationObserver: "in_dom" when the text node changed, "painted" at the next
   animation frame, which at 60 Hz waits up to 16.7 ms), and model write -> the same
   delta handed to the Python session. p50/p99 of each and the ratios of the p50s
   (target: browser p50 <= 2x Python p50).
2. navigation to interactive on localhost (a paired browser, cached shell): the app
   shell shown (the composer usable, from IndexedDB) and online (hello answered), ms
   from navigation start.
3. the bundle's size, gzipped (target: app.js <= 150 KB).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _report import emit  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")

TOKENS = 40
TOPICS = [
    "the moon",
    "volcanoes",
    "jazz",
    "old maps",
    "bees",
    "glaciers",
    "chess openings",
    "sourdough",
    "comets",
    "lighthouses",
    "the Roman roads",
    "octopuses",
    "tea ceremonies",
    "clocks",
    "deserts",
    "origami",
]

OBSERVER = """
window.__paints = []
document.addEventListener('DOMContentLoaded', () => {
  const mark = name => { if (!window['__' + name]) window['__' + name] = performance.now() }
  new MutationObserver(() => {
    const s = document.getElementById('status')
    if (!document.getElementById('shell').hidden) mark('shell')
    if (s && s.dataset.state === 'online') mark('online')
    const last = [...document.querySelectorAll('#messages li.assistant .text')].pop()
    if (!last) return
    const n = (last.textContent.match(/\\btk\\d+/g) || []).length
    const turn = last.parentElement.dataset.key
    const inDom = performance.timeOrigin + performance.now()
    requestAnimationFrame(() => window.__paints.push([turn, n, inDom, performance.timeOrigin + performance.now()]))
  }).observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true})
})
"""


class ScriptedModel:
    """``/v1/chat/completions`` streaming ``tk0 tk1 …``, ``delay_s`` apart; notes each write's wall time."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.writes: list[list[float]] = []  # per request: wall time of token i
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        starting = asyncio.start_server(self._serve, "127.0.0.1", 0)
        server = asyncio.run_coroutine_threadsafe(starting, self.loop).result(5)
        self.base_url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                await reader.readexactly(length)
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
                )
                times: list[float] = []
                self.writes.append(times)
                for i in range(TOKENS):
                    await asyncio.sleep(self.delay_s)
                    self._event(writer, {"content": f"tk{i} "})
                    await writer.drain()
                    times.append(time.time())
                self._event(writer, {}, finish="stop")
                data = b"data: [DONE]\n\n"
                writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    @staticmethod
    def _event(writer: asyncio.StreamWriter, delta: dict[str, Any], finish: str | None = None) -> None:
        chunk = {
            "id": "x",
            "object": "chat.completion.chunk",
            "model": "scripted",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        data = f"data: {json.dumps(chunk)}\n\n".encode()
        writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": round(statistics.median(values), 2),
        "p99_ms": round(pct(values, 0.99), 2),
        "max_ms": round(max(values), 2),
    }


def bundle_size() -> dict[str, Any]:
    shipped = ROOT / "qira" / "api" / "static" / "companion"
    sizes = {p.name: len(gzip.compress(p.read_bytes(), 9)) for p in sorted(shipped.iterdir())}
    return {
        "app_js_gzip_kb": round(sizes["app.js"] / 1024, 1),
        "shell_gzip_kb": round(sum(v for k, v in sizes.items() if not k.endswith(".png")) / 1024, 1),
        "target_app_js_kb": 150,
        "files_gzip_bytes": sizes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out")
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--token-delay", type=float, default=0.02)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from tests._hub import HubProcess
    from tests.companion._browser import PyDevice, chromium_path, pair_link

    model = ScriptedModel(args.token_delay)
    with tempfile.TemporaryDirectory(prefix="qira-bench-companion-") as tmp_name:
        tmp = Path(tmp_name)
        hub = HubProcess(
            tmp / "hub",
            env={
                "QIRA_HUB_WARM_UP": "false",
                "QIRA_INFERENCE_POLICY": "prefer-local",
                "QIRA_INFERENCE_CLOUD__BASE_URL": model.base_url,
                "QIRA_INFERENCE_CLOUD__MODEL": "scripted",
            },
        ).start(timeout=60)
        py = None
        try:
            desk = pair_link(hub.data_dir, "desk", "pc")["code"]
            py = PyDevice(hub.ws_url, tmp / "py", name="desk", kind="pc", code=desk)
            code = pair_link(hub.data_dir, "pocket", "phone")["code"]
            with sync_playwright() as pw:
                context = pw.chromium.launch_persistent_context(
                    tmp / "profile", executable_path=chromium_path(), viewport={"width": 820, "height": 1180}
                )
                context.set_default_timeout(180_000)
                context.add_init_script(OBSERVER)
                page = context.pages[0] if context.pages else context.new_page()
                page.goto(f"{hub.http_url}/#pair={code}")
                page.wait_for_selector("#status[data-state=online]")
                thread = py.ask("what is the story of the moon", timeout=180)["thread"]  # warms the hub's models
                page.evaluate(f"window.qiraCompanion.view.openThread('{thread}')")
                page.fill("#say", "and what else")
                page.press("#say", "Enter")
                page.wait_for_function("document.querySelectorAll('#messages li.assistant .badge').length > 0")
                deltas = measure_deltas(page, py, model, thread, args.turns)
                loads = measure_loads(page, args.loads)
                context.close()
        finally:
            if py is not None:
                py.close()
            hub.stop()
    browser, dom, python = summary(deltas["browser"]), summary(deltas["browser_dom"]), summary(deltas["python"])
    result = {
        "delta_to_screen": {
            "browser_painted": browser,
            "browser_in_dom": dom,
            "python_device": python,
            "ratio_p50_painted": round(browser["p50_ms"] / max(python["p50_ms"], 0.01), 2),
            "ratio_p50_in_dom": round(dom["p50_ms"] / max(python["p50_ms"], 0.01), 2),
            "target_ratio": 2.0,
            "turns": args.turns,
            "tokens_per_turn": TOKENS,
            "token_delay_s": args.token_delay,
        },
        "navigation": loads,
        "bundle": bundle_size(),
    }
    emit(result, args.out)


def measure_deltas(page: Any, py: Any, model: ScriptedModel, thread: str, turns: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"browser": [], "browser_dom": [], "python": []}
    for i in range(turns):
        page.evaluate("window.__paints = []")
        start = py.mark()
        before = len(model.writes)
        done = py.ask(f"what is the story of {TOPICS[i % len(TOPICS)]} {i}", thread=thread, timeout=120)
        if len(model.writes) == before:
            continue  # a skill answered: no scripted tokens to time
        writes = model.writes[-1]
        key = f"a:{done['turn']}"
        page.wait_for_function(f"document.querySelector('#messages li[data-key=\"{key}\"] .badge') !== null")
        paints = [p for p in page.evaluate("window.__paints") if p[0] == key]
        arrived = {
            e["index"]: e["_at"]
            for e in py.events[start:]
            if e.get("type") == "chat.delta" and e.get("turn") == done["turn"] and "_at" in e
        }
        for index, written in enumerate(writes):
            shown = next((p for p in paints if p[1] >= index + 1), None)
            if shown is not None:
                out["browser_dom"].append(shown[2] - written * 1000)
                out["browser"].append(shown[3] - written * 1000)
            if index in arrived:
                out["python"].append((arrived[index] - written) * 1000)
    return out


def measure_loads(page: Any, loads: int) -> dict[str, Any]:
    shell, online = [], []
    for _ in range(loads):
        page.reload()
        page.wait_for_selector("#status[data-state=online]")
        page.wait_for_function("window.__shell !== undefined && window.__online !== undefined")
        shell.append(page.evaluate("window.__shell"))
        online.append(page.evaluate("window.__online"))
    return {
        "shell_interactive_ms": {"p50": round(statistics.median(shell), 1), "max": round(max(shell), 1)},
        "online_ms": {"p50": round(statistics.median(online), 1), "max": round(max(online), 1)},
        "loads": loads,
    }


if __name__ == "__main__":
    main()
