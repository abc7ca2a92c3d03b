"""The agent, measured.

    python bench/agent.py --out bench/results/agent.json [--turns 200] [--quick]

1. turn overhead without model time: a real hub (subprocess) whose model is a
   scripted instant one, a real device session over loopback WebSocket; time from
   the device submitting ``chat.send`` to the first ``chat.delta`` arriving on it.
   Two paths: an open question (recall, intent match, route, the model answers)
   and a skill (the intent match picks ``time_now``). Targets: p50 <= 30 ms,
   p99 <= 100 ms. Every utterance is different, so no cache helps. Measured twice:
   the hub as it serves, and with TCP_NODELAY set on its listening socket.
2. intent-match accuracy of the first-party skills on held-out utterances
   (tests/skills/_heldout.py), with the confusion pairs; also with the patterns
   switched off, to show what the embeddings alone do. Target: >= 90%.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _report import emit  # noqa: E402  (bench/ is on sys.path when run as a script)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TOPICS = ["the moon", "volcanoes", "jazz", "old maps", "bees", "glaciers", "chess openings", "sourdough", "comets",
          "lighthouses", "the Roman roads", "octopuses", "tea ceremonies", "clocks", "deserts", "origami"]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50_ms": round(statistics.median(values), 2), "p90_ms": round(pct(values, 0.9), 2),
            "p99_ms": round(pct(values, 0.99), 2), "max_ms": round(max(values), 2)}


# -- the hub under test: a real hub whose model answers instantly ---------------

def serve_scripted(data_dir: str) -> None:
    """Run in the subprocess: ``qira serve`` with the inference service swapped for an instant model."""
    from qira._logging import setup_logging
    from qira.config import load_config
    from qira.hub import Hub
    from qira.inference import Finish, RouteDecision, Target, TextDelta

    class InstantModel:
        name = "instant"

        def route(self, request: Any, *, device_kind: Any = None) -> RouteDecision:
            return RouteDecision(target=Target.LOCAL, reasons=("benchmark: instant scripted model",))

        async def chat(self, request: Any, *, device_kind: Any = None):
            yield TextDelta(text="Here is ")
            yield TextDelta(text="an answer.")
            yield Finish(reason="stop")

        async def close(self) -> None:
            return None

    if os.environ.get("QIRA_BENCH_NODELAY"):  # diagnosis: Nagle's algorithm holding the first delta back
        import socket

        import qira.hub as hub_module

        plain_bind = hub_module.bind_socket

        def bind_nodelay(host: str, port: int) -> socket.socket:
            sock = plain_bind(host, port)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # inherited by accepted sockets
            return sock

        hub_module.bind_socket = bind_nodelay

    class BenchHub(Hub):
        def _build_inference(self) -> None:
            self.inference = InstantModel()

    config = load_config(overrides={"hub": {"data_dir": data_dir, "port": 0, "warm_up": False}})
    setup_logging("warning")
    hub = BenchHub(config)
    asyncio.run(hub.serve(on_listening=lambda host, port: print(f"LISTENING {port}", flush=True)))


async def measure_turns(data_dir: Path, port: int, turns: int) -> dict[str, Any]:
    from device_adapters import DeviceSession
    from qira.sync import SyncStore

    store = SyncStore(data_dir / "sync.db")
    code = store.create_pairing_code("bench-phone", "phone", 600)
    store.close()
    first_delta: dict[str, float] = {}
    done: dict[str, asyncio.Event] = {}

    def on_event(event: dict[str, Any]) -> None:
        turn = event.get("turn")
        if event.get("type") == "chat.delta" and turn and turn not in first_delta:
            first_delta[turn] = time.perf_counter()
        elif event.get("type") == "chat.done" and turn:
            done.setdefault(turn, asyncio.Event()).set()

    with tempfile.TemporaryDirectory(prefix="qira-bench-device-") as state:
        session = DeviceSession(f"ws://127.0.0.1:{port}/ws", name="bench-phone", kind="phone", state_dir=Path(state),
                                pair_code=code, on_event=on_event)
        session.start()
        await session.wait_ready(30)

        async def turn(text: str) -> float:
            sent = time.perf_counter()
            reply = await session.submit("chat.send", {"text": text})
            turn_id = reply.result["turn"]
            await asyncio.wait_for(done.setdefault(turn_id, asyncio.Event()).wait(), 60)
            return (first_delta[turn_id] - sent) * 1000

        for i in range(8):  # warm-up: the first turn loads the embedding model in the hub
            await turn(f"warm up number {i}, tell me about {TOPICS[i]}")
            await turn("what time is it")
        model_path = [await turn(f"tell me something about {TOPICS[i % len(TOPICS)]}, take {i}") for i in range(turns)]
        skill_path = [await turn(f"what time is it{'?' * (1 + i % 3)} (asked {i})") for i in range(turns)]
        await session.close()
    return {"model_path": summary(model_path), "skill_path": summary(skill_path)}


def turn_overhead(turns: int, *, nodelay: bool = False) -> dict[str, Any]:
    env = {**os.environ, **({"QIRA_BENCH_NODELAY": "1"} if nodelay else {})}
    with tempfile.TemporaryDirectory(prefix="qira-bench-agent-") as tmp:
        data = Path(tmp) / "hub"
        proc = subprocess.Popen([sys.executable, __file__, "--serve-scripted", str(data)], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=env)
        try:
            port = None
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith("LISTENING "):
                    port = int(line.split()[1])
                    break
            if port is None:
                raise RuntimeError("the benchmark hub did not start")
            return asyncio.run(measure_turns(data, port, turns))
        finally:
            proc.terminate()
            proc.wait(15)


# -- intent accuracy ------------------------------------------------------------

def intent_accuracy() -> dict[str, Any]:
    from qira.agent import IntentMatcher, SkillRegistry
    from qira.agent._intent import confident
    from qira.config import AgentConfig, SkillsConfig
    from qira.memory import Embedder
    from tests.skills._heldout import HELDOUT

    cfg = AgentConfig()
    skills = list(SkillRegistry.from_entry_points(SkillsConfig()))
    embedder = Embedder()
    embedder.load()

    def evaluate(matcher: IntentMatcher) -> dict[str, Any]:
        async def run() -> list[tuple[str, str | None, str | None]]:
            out = []
            for text, want in HELDOUT:
                matches = await matcher.match(text)
                ok = confident(matches, threshold=cfg.intent_threshold, floor=cfg.intent_floor, margin=cfg.intent_margin)
                out.append((text, want, matches[0].skill if ok else None))
            return out

        rows = asyncio.run(run())
        right = [r for r in rows if r[2] == r[1] or (r[1] is None and r[2] in (None, "small_talk"))]
        wrong = [r for r in rows if r not in right]
        pairs = Counter(f"{want or 'none (model)'} -> {got or 'none (model)'}" for _, want, got in wrong)
        wrong_skill = [r for r in wrong if r[2] not in (None, "small_talk")]
        return {
            "utterances": len(rows), "correct": len(right), "accuracy": round(len(right) / len(rows), 4),
            "acted_on_a_wrong_skill": len(wrong_skill),
            "confusion_pairs": dict(pairs.most_common()),
            "misses": [{"text": t, "expected": w, "got": g} for t, w, g in wrong],
        }

    full = evaluate(IntentMatcher(skills, embedder))
    from dataclasses import replace

    embeddings_only = evaluate(IntentMatcher([replace(s, patterns=()) for s in skills], embedder))
    return {"with_patterns": full, "embeddings_only": embeddings_only,
            "threshold": cfg.intent_threshold, "floor": cfg.intent_floor, "margin": cfg.intent_margin}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="write the JSON figures here too")
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="40 turns per path")
    parser.add_argument("--serve-scripted", metavar="DATA_DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_scripted:
        serve_scripted(args.serve_scripted)
        return 0
    turns = 40 if args.quick else args.turns
    started = time.perf_counter()
    overhead = turn_overhead(turns)
    # The same hub with TCP_NODELAY on its listening socket: the reply to chat.send and the
    # first delta leave ~20 ms apart, so Nagle's algorithm waits for the device's delayed ACK.
    overhead["with_tcp_nodelay"] = turn_overhead(turns, nodelay=True)
    accuracy = intent_accuracy()
    targets = {
        "model_path_p50_le_30ms": overhead["model_path"]["p50_ms"] <= 30,
        "model_path_p99_le_100ms": overhead["model_path"]["p99_ms"] <= 100,
        "skill_path_p50_le_30ms": overhead["skill_path"]["p50_ms"] <= 30,
        "skill_path_p99_le_100ms": overhead["skill_path"]["p99_ms"] <= 100,
        "intent_accuracy_ge_90pct": accuracy["with_patterns"]["accuracy"] >= 0.9,
    }
    result = {"benchmark": "agent", "machine": {"cpus": os.cpu_count()}, "turn_overhead": overhead,
              "intent": accuracy, "targets_met": targets, "seconds": round(time.perf_counter() - started, 1)}
    emit(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
