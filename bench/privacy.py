"""Privacy, measured: detector time, the corpus figures, and the memory relevance cutoff.

    python bench/privacy.py --out bench/results/privacy.json [--quick] [--e2e]

1. detector: time of one scan of a 4 KB conversation (12 messages: chat, code, numbers,
   a few items of personal data), p50/p95 (target p95 <= 5 ms), next to a clean 4 KB one,
   and the whole routing decision in redact mode;
2. corpus (tests/privacy/corpus.py, in process): leaks, ordinary questions kept local
   (target <= 5%), reasons naming the right kind, placeholders restored exactly with an
   answer that repeats and reorders them in 1-5 character chunks (target 100%);
3. relevance cutoff: the memory search scores of relevant and irrelevant memories over
   the persona set (bench/data/persona.json) and ordinary questions: the cutoff the
   router uses (``inference.cloud_memory_min_score``) and how it separates them;
4. with ``--e2e``: the corpus through a live hub and a recording endpoint, both modes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _report import emit  # noqa: E402

from qira.config import CloudConfig, InferenceConfig, MemoryConfig  # noqa: E402
from qira.inference import ChatMessage, ChatRequest  # noqa: E402
from qira.inference._router import CloudStatus, Router  # noqa: E402
from qira.privacy import PersonalData, Restorer, redact, scan_texts  # noqa: E402
from tests.privacy.corpus import ORDINARY, PERSONAL  # noqa: E402
from tests.privacy.recording import PLACEHOLDER, EchoServer  # noqa: E402

CHAT = [
    "Can you help me plan a week of dinners for two? We like Portuguese and Japanese food.",
    "Sure! Monday: bacalhau à Brás. Tuesday: miso salmon with rice. Wednesday: caldo verde and bread.",
    "Here is the script that fails:\n```python\nimport json\nrows = json.load(open('data.json'))\n"
    "print(sum(r['price'] * r['qty'] for r in rows if r['id'] > 1200))\n```\nIt raises KeyError: 'qty'.",
    "Some rows have no 'qty'. Use r.get('qty', 1), or filter them out first.",
    "Thanks. Also, what is 17% of 2,480 and how many seconds are in 3.5 days?",
    "17% of 2,480 is 421.6, and 3.5 days are 302,400 seconds.",
    "I'm flying to Lisbon on 2026-03-14 at 10:45, flight TP 1351. When should I leave for the airport?",
    "Leave around 08:15: check-in closes 45 minutes before an international departure.",
    "Who lived at 221B Baker Street, and what is the speed of light (299 792 458 m/s) in km/h?",
    "Sherlock Holmes, in the stories; light travels at about 1 079 252 849 km/h.",
]
PERSONAL_TAIL = [
    "By the way my sister Ana Lima's number is +44 20 7946 0958, mail ana.lima@example.com.",
    "Great, and book the table under my card 4539 1488 0343 6467.",
]


def _conversation(personal: bool, size: int = 4096) -> list[str]:
    messages = CHAT + (PERSONAL_TAIL if personal else ["Thanks, that's all for now.", "You're welcome!"])
    while sum(len(m) for m in messages) < size:  # pad the chat part to 4 KB with more of the same
        messages.insert(2, CHAT[len(messages) % len(CHAT)])
    return messages


def _percentiles(samples: list[float]) -> dict[str, float]:
    samples = sorted(samples)
    return {
        "p50_ms": round(statistics.median(samples), 3),
        "p95_ms": round(samples[int(len(samples) * 0.95) - 1], 3),
        "max_ms": round(samples[-1], 3),
    }


def detector(runs: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    router = Router(
        InferenceConfig(
            policy="prefer-cloud", privacy_mode="redact", cloud=CloudConfig(base_url="http://127.0.0.1:9/v1")
        )
    )
    for name, personal in (("personal_4kb", True), ("clean_4kb", False)):
        messages = _conversation(personal)
        request = ChatRequest(
            messages=[
                ChatMessage(role="user" if i % 2 == 0 else "assistant", content=m) for i, m in enumerate(messages)
            ]
        )
        scan_texts(messages)  # warm the regular expressions
        scans, cpu, routes = [], [], []
        for _ in range(runs):
            t, c = time.perf_counter(), time.thread_time()
            scan_texts(messages)
            scans.append((time.perf_counter() - t) * 1000)
            cpu.append((time.thread_time() - c) * 1000)
            t = time.perf_counter()
            router.decide(request, cloud=CloudStatus(configured=True))
            routes.append((time.perf_counter() - t) * 1000)
        found = scan_texts(messages)
        out[name] = {
            "chars": sum(len(m) for m in messages),
            "messages": len(messages),
            "found": [k.name.lower() for k in found.kinds],
            "scan": _percentiles(scans),
            # CPU time of this thread: what the scan costs when the machine is shared (wall time
            # includes waiting for a core; on a loaded 2-core machine that dominates)
            "scan_cpu": _percentiles(cpu),
            "route_redact_mode": _percentiles(routes),
        }
    out["target_p95_ms"] = 5.0
    out["load_average_1m"] = round(os.getloadavg()[0], 2)
    return out


def corpus(seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed)
    missed, leaked, wrong_kind, restored, redacted_cases = [], [], [], 0, 0
    for case in PERSONAL:
        scan = scan_texts(list(case.turns))
        if not scan.found:
            missed.append(case.id)
            continue
        if PersonalData[case.kind] not in scan.kinds:
            wrong_kind.append(case.id)
        if not (case.redactable and scan.redactable):
            continue
        redaction = redact(list(case.turns), scan)
        sent = "\n".join(redaction.texts)
        leaked += [case.id for s in case.secrets if s in sent]
        answer = EchoServer.answer_for({"messages": [{"content": t} for t in redaction.texts]})
        restorer, got, i = Restorer(redaction.values), [], 0
        while i < len(answer):
            n = rng.randint(1, 5)
            got.append(restorer.feed(answer[i : i + n]))
            i += n
        text = "".join(got) + restorer.flush()
        redacted_cases += 1
        if all(s in text for s in case.secrets) and not PLACEHOLDER.search(text):
            restored += 1
    kept = [c.id for c in ORDINARY if scan_texts(list(c.turns)).found]
    return {
        "personal_cases": len(PERSONAL),
        "ordinary_cases": len(ORDINARY),
        "leaks": len(missed) + len(leaked),
        "missed": missed,
        "leaked_after_redaction": leaked,
        "reason_names_right_kind": round(1 - len(wrong_kind) / len(PERSONAL), 4),
        "wrong_kind": wrong_kind,
        "ordinary_kept_local": round(len(kept) / len(ORDINARY), 4),
        "ordinary_kept_local_ids": kept,
        "redacted_cases": redacted_cases,
        "restored_exactly": round(restored / max(redacted_cases, 1), 4),
    }


async def cutoff(cut: float) -> dict[str, Any]:
    from qira.memory import Embedder, MemoryStore

    data = json.loads((ROOT / "bench" / "data" / "persona.json").read_text())
    embedder = Embedder()
    await asyncio.to_thread(embedder.load)
    with tempfile.TemporaryDirectory() as tmp:
        store = MemoryStore(Path(tmp) / "memory", MemoryConfig(), embedder)
        await store.open()
        await store.wait_ready()
        ids = {}
        for m in data["memories"]:
            ids[m["id"]] = (await store.add(m["text"], kind=m["kind"])).memory.id
        relevant, irrelevant = [], []
        for q in data["queries"]:
            wanted = {ids[r] for r in q["relevant"]}
            for hit in await store.search(q["query"], k=5):
                (relevant if hit.memory.id in wanted else irrelevant).append(hit.score)
        ordinary = []
        for case in ORDINARY:
            ordinary += [h.score for h in await store.search(case.turns[-1], k=5)]
        await store.close()

    def share_at(xs: list[float], c: float) -> float:
        return round(sum(x >= c for x in xs) / max(len(xs), 1), 4)

    def share(xs: list[float]) -> float:
        return share_at(xs, cut)

    def describe(xs: list[float]) -> dict[str, float]:
        xs = sorted(xs)
        return {
            "n": len(xs),
            "p10": round(xs[len(xs) // 10], 4),
            "median": round(statistics.median(xs), 4),
            "p90": round(xs[len(xs) * 9 // 10], 4),
            "max": round(xs[-1], 4),
        }

    curve = {
        f"{c:.2f}": {
            "relevant_kept": share_at(relevant, c),
            "irrelevant_kept": share_at(irrelevant, c),
            "ordinary_kept": share_at(ordinary, c),
        }
        for c in (0.25, 0.30, 0.35, 0.40, 0.45, 0.50)
    }
    return {
        "cutoff": cut,
        "curve": curve,
        "relevant_top5": describe(relevant),
        "irrelevant_top5": describe(irrelevant),
        "ordinary_questions_top5": describe(ordinary),
        "relevant_at_or_above_cutoff": share(relevant),
        "irrelevant_at_or_above_cutoff": share(irrelevant),
        "ordinary_at_or_above_cutoff": share(ordinary),
    }


def e2e() -> dict[str, Any]:
    from tests.privacy import test_e2e as t
    from tests.privacy.corpus import CASES

    out: dict[str, Any] = {}
    for mode in ("keep-local", "redact"):
        with EchoServer() as echo, tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            hub, token = t._hub(Path(tmp), echo, mode)
            try:
                answers = t._run(hub, token, CASES)
            finally:
                hub.stop()
            redactable = [c for c in PERSONAL if c.redactable]
            restored = [
                c
                for c in redactable
                if all(s in answers[c.id] for s in c.secrets) and not t.LEFTOVER.search(answers[c.id])
            ]
            out[mode] = {
                "cases": len(CASES),
                "seconds": round(time.perf_counter() - start, 1),
                "requests_recorded": len(echo.requests),
                "leaks": len(t._leaks(echo, PERSONAL)),
                "ordinary_kept_local": round(len(t._kept_local(echo, ORDINARY)) / len(ORDINARY), 4),
            }
            if mode == "redact":
                out[mode]["restored_exactly"] = round(len(restored) / len(redactable), 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="write the JSON figures here")
    parser.add_argument("--quick", action="store_true", help="fewer timing runs")
    parser.add_argument("--e2e", action="store_true", help="also run the corpus through a live hub (minutes)")
    args = parser.parse_args()
    result: dict[str, Any] = {"detector": detector(50 if args.quick else 300), "corpus": corpus()}
    result["memory_relevance"] = asyncio.run(cutoff(InferenceConfig().cloud_memory_min_score))
    if args.e2e:
        result["e2e"] = e2e()
    emit(result, args.out)


if __name__ == "__main__":
    main()
