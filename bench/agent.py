"""The agent, measured.

    python bench/agent.py --out bench/results/agent.json [--turns 200] [--quick]

1. turn overhead without model time: a real hub (subprocess) whose model is a
   scripted instant one, a real device session over loopback WebSocket; time from
   the device submitting ``chat.send`` to the first ``chat.delta`` arriving on it.
   Two paths: an open question (recall, intent match, route, the model answers)
   and a skill (the intent match picks ``time_now``). Targets: p50 <= 30 ms,
   p99 <= 100 ms. Every utterance is different, so no cache helps. Measured twice:
   the hub as it serves, and with TCP_NODELAY set on its listening socket.
2. intent classification of the first-party skills on two held-out sets, each
   reported on its own: tests/agent/_heldout.py (320 utterances written apart from
   the examples) and tests/agent/_heldout_blind.py (175 written from the skills'
   names and descriptions alone, before tuning): accuracy, wrong-skill actions per
   skill, the confusion pairs; also without the patterns, and with every skill acting
   at the read-only threshold. Targets: >= 95% right, no skill that changes something
   run on a wrong match, on both. ``--cv`` adds 5-fold cross-validation, repeated with
   3 shuffles, of the thresholds on the training data (the examples and the
   out-of-scope set; see tests/agent/_eval.py choose_thresholds for the rule).
3. with ``--threads``: seconds per short local answer for 1, 2 and all threads.

    python bench/agent.py --intent-only --threads --out bench/results/agent-intent.json
    python bench/agent.py --intent-only --cv --out bench/results/agent-intent.json
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


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": round(statistics.median(values), 2),
        "p90_ms": round(pct(values, 0.9), 2),
        "p99_ms": round(pct(values, 0.99), 2),
        "max_ms": round(max(values), 2),
    }


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
        session = DeviceSession(
            f"ws://127.0.0.1:{port}/ws",
            name="bench-phone",
            kind="phone",
            state_dir=Path(state),
            pair_code=code,
            on_event=on_event,
        )
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
        proc = subprocess.Popen(
            [sys.executable, __file__, "--serve-scripted", str(data)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT,
            env=env,
        )
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


def intent_accuracy(*, cv: bool = False) -> dict[str, Any]:
    """Both held-out sets through the classifier as the hub configures it: tests/agent/_heldout.py
    (written apart from the skills' examples) and tests/agent/_heldout_blind.py (written from the
    skills' names and descriptions alone, before tuning), each reported on its own; also with the
    patterns switched off (the classifier alone) and with the read-only/acting distinction
    ignored (every skill acting at the read-only threshold), to show what each part does. With
    ``cv``: 5-fold cross-validation on the training data (examples + out-of-scope set) and the
    thresholds it supports, next to the configured ones."""
    from dataclasses import replace

    from qira.agent import IntentMatcher, SkillRegistry, Thresholds
    from qira.agent._out_of_scope import OUT_OF_SCOPE
    from qira.config import AgentConfig, SkillsConfig
    from qira.memory import Embedder
    from tests.agent._eval import choose_thresholds, cross_validate, evaluate, sweep
    from tests.agent._heldout import HELDOUT
    from tests.agent._heldout_blind import BLIND
    from tests.agent._heldout_third import THIRD

    cfg = AgentConfig()
    thresholds = Thresholds.from_config(cfg)
    skills = list(SkillRegistry.from_entry_points(SkillsConfig()))
    embedder = Embedder()
    embedder.load()
    sets = {"heldout": HELDOUT, "blind": BLIND, "third": THIRD}  # the third: measured, no target
    out: dict[str, Any] = {}
    started = time.perf_counter()
    matcher = IntentMatcher(skills, embedder, thresholds=thresholds)
    for name, rows in sets.items():
        full = evaluate(matcher, rows)
        no_patterns = evaluate(
            IntentMatcher([replace(s, patterns=()) for s in skills], embedder, thresholds=thresholds), rows
        )
        one_threshold = evaluate(
            IntentMatcher(
                skills,
                embedder,
                thresholds=replace(thresholds, changes=thresholds.read_only, ask=thresholds.read_only),
            ),
            rows,
        )
        for result in (full, no_patterns, one_threshold):
            result.pop("rows")
        out[name] = {
            **full,
            "classifier_without_patterns": {k: no_patterns[k] for k in _HEADLINE},
            "acting_skills_at_the_read_only_threshold": {k: one_threshold[k] for k in _HEADLINE},
            "utterances_per_expected_skill": dict(Counter(want or "none (model)" for _, want in rows)),
        }
    out["train_and_classify_seconds"] = round(time.perf_counter() - started, 2)
    out["thresholds"] = _thresholds(thresholds)
    out["training"] = {
        "examples": sum(len(s.examples) for s in skills),
        "skills": len(skills),
        "out_of_scope": len(OUT_OF_SCOPE),
    }
    if cv:
        by_name = {s.name: s for s in skills}
        oof = [row for seed in (0, 1, 2) for row in cross_validate(skills, embedder, OUT_OF_SCOPE, seed=seed)]
        chosen = choose_thresholds(oof, by_name, thresholds)
        out["cross_validation"] = {
            "folds": 5,
            "repeats": 3,
            "rows": len(oof),
            "configured": sweep(oof, by_name, thresholds),
            "chosen_thresholds": _thresholds(chosen),
            "at_chosen": sweep(oof, by_name, chosen),
            "acting_threshold_sweep": {
                str(x): sweep(oof, by_name, replace(thresholds, changes=x))
                for x in (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9)
            },
            "read_only_threshold_sweep": {
                str(x): sweep(oof, by_name, replace(thresholds, read_only=x)) for x in (0.3, 0.4, 0.5, 0.55, 0.6, 0.7)
            },
        }
    return out


_HEADLINE = (
    "accuracy",
    "asked_back_on_the_right_skill",
    "acted_on_a_wrong_skill",
    "side_effecting_skill_on_a_wrong_match",
)


def _thresholds(t: Any) -> dict[str, float]:
    return {
        "read_only": t.read_only,
        "changes": t.changes,
        "ask": t.ask,
        "similarity": t.similarity,
        "margin": t.margin,
    }


# -- local model threads ----------------------------------------------------------


def local_threads(counts: list[int], prompts: int = 3) -> dict[str, Any]:
    """Seconds per short answer from the local model for each thread count, side by side in
    one run (each loads its own model). The fastest is what `threads = 0` should pick."""
    from qira.config import LocalModelConfig
    from qira.inference import ChatMessage, ChatRequest, LocalChatModel, LocalModel, TextDelta

    questions = ["Name a colour.", "Say hello in one short sentence.", "What is two plus two?"][:prompts]

    async def measure(threads: int, sock: Path) -> dict[str, float]:
        model = LocalModel(LocalModelConfig(threads=threads, parallel=1), socket_dir=sock)
        await asyncio.to_thread(model.load)
        chat = LocalChatModel(model)
        times, tokens = [], 0
        for q in questions:
            t = time.perf_counter()
            async for delta in chat.stream(
                ChatRequest(messages=[ChatMessage(role="user", content=q)], max_tokens=32, temperature=0.0)
            ):
                if isinstance(delta, TextDelta):
                    tokens += 1
            times.append(time.perf_counter() - t)
        await asyncio.to_thread(model.close)
        return {
            "median_s": round(statistics.median(times), 3),
            "max_s": round(max(times), 3),
            "chunks_per_s": round(tokens / sum(times), 1),
        }

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="qira-bench-threads-") as tmp:
        for n in counts:
            out[str(n)] = asyncio.run(measure(n, Path(tmp)))
    fastest = min(out, key=lambda k: out[k]["median_s"])
    return {
        "per_thread_count": out,
        "fastest": int(fastest),
        "cpus": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="write the JSON figures here too")
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="40 turns per path")
    parser.add_argument("--intent-only", action="store_true", help="only the held-out intent figures")
    parser.add_argument("--threads", action="store_true", help="also time the local model per thread count")
    parser.add_argument("--cv", action="store_true", help="also cross-validate the thresholds on the training data")
    parser.add_argument("--serve-scripted", metavar="DATA_DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_scripted:
        serve_scripted(args.serve_scripted)
        return 0
    turns = 40 if args.quick else args.turns
    started = time.perf_counter()
    accuracy = intent_accuracy(cv=args.cv)
    targets = {}
    for name in ("heldout", "blind"):
        targets[f"{name}_intent_accuracy_ge_95pct"] = accuracy[name]["accuracy"] >= 0.95
        targets[f"{name}_no_side_effecting_skill_on_a_wrong_match"] = (
            accuracy[name]["side_effecting_skill_on_a_wrong_match"] == 0
        )
    result: dict[str, Any] = {"benchmark": "agent", "machine": {"cpus": os.cpu_count()}, "intent": accuracy}
    if args.threads:
        result["local_threads"] = local_threads(sorted({1, 2, os.cpu_count() or 2}))
    if not args.intent_only:
        overhead = turn_overhead(turns)
        # The same hub with TCP_NODELAY on its listening socket: the reply to chat.send and the
        # first delta leave ~20 ms apart, so Nagle's algorithm waits for the device's delayed ACK.
        overhead["with_tcp_nodelay"] = turn_overhead(turns, nodelay=True)
        result["turn_overhead"] = overhead
        targets.update(
            {
                "model_path_p50_le_30ms": overhead["model_path"]["p50_ms"] <= 30,
                "model_path_p99_le_100ms": overhead["model_path"]["p99_ms"] <= 100,
                "skill_path_p50_le_30ms": overhead["skill_path"]["p50_ms"] <= 30,
                "skill_path_p99_le_100ms": overhead["skill_path"]["p99_ms"] <= 100,
            }
        )
    result.update({"targets_met": targets, "seconds": round(time.perf_counter() - started, 1)})
    emit(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
