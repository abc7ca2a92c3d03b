"""The hybrid split, measured side by side in one run.

    python bench/inference.py --out bench/results/inference.json [--quick]

1. cloud overhead: time to first token and total time through Qira's cloud backend
   vs a bare httpx stream to the same llama.cpp server (target: <= 5% more);
2. local throughput: tokens/s through LocalChatModel vs xllamacpp called directly
   on the same loaded model (target: >= 95%);
3. router: p99 of one routing decision (target: < 1 ms);
4. chaos: requests through the service against an endpoint injecting faults into
   30% of the calls, with the local model as fallback (target: 100% completed).

Everything runs on 127.0.0.1. The llama.cpp server and the local model use one
thread each (steadier figures on a shared 2-core machine) and never run at once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _report import emit  # noqa: E402  (bench/ is on sys.path when run as a script)

from qira.config import CloudConfig, InferenceConfig, LocalModelConfig  # noqa: E402
from qira.inference import (  # noqa: E402
    ChatMessage,
    ChatRequest,
    CloudChatModel,
    Finish,
    InferenceService,
    LocalChatModel,
    LocalModel,
    Target,
    TextDelta,
)
from qira.inference._wire import request_json  # noqa: E402  (the very body Qira sends, for the bare client)
from tests.inference.servers import Fault, FaultServer, LlamaServer  # noqa: E402

PROMPT = "Write a short story about a lighthouse keeper."


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- 1. cloud backend vs bare httpx -------------------------------------------------------


async def bare_stream(client: httpx.AsyncClient, body: dict[str, Any]) -> tuple[float, float, int]:
    """The least a client can do: stream, parse each event, count tokens."""
    started = time.perf_counter()
    first = None
    tokens = 0
    for attempt in range(2):
        try:
            async with client.stream("POST", "chat/completions", json=body) as response:
                response.raise_for_status()
                async for line in response.aiter_lines():
                    if not line.startswith("data: ") or line == "data: [DONE]":
                        continue
                    chunk = json.loads(line[6:])
                    for choice in chunk.get("choices") or []:
                        if (choice.get("delta") or {}).get("content"):
                            tokens += 1
                            if first is None:
                                first = time.perf_counter()
            break
        except httpx.RemoteProtocolError:
            # llama.cpp's server closes the connection after a stream; a pooled connection
            # can be stale. Qira retries this once too, so the bare client must as well.
            if attempt:
                raise
    end = time.perf_counter()
    return (first or end) - started, end - started, tokens


async def qira_stream(model: CloudChatModel, request: ChatRequest) -> tuple[float, float, int]:
    started = time.perf_counter()
    first = None
    tokens = 0
    async for delta in model.stream(request):
        if isinstance(delta, TextDelta):
            tokens += 1
            if first is None:
                first = time.perf_counter()
    end = time.perf_counter()
    return (first or end) - started, end - started, tokens


async def bench_cloud(runs: int, max_tokens: int) -> dict[str, Any]:
    llama = LlamaServer(api_key="bench-key", threads=1, parallel=1)  # one thread: steadier on a shared machine
    request = ChatRequest(messages=[ChatMessage(role="user", content=PROMPT)], max_tokens=max_tokens, temperature=0.0)
    config = CloudConfig(base_url=llama.base_url, model="smollm2", read_timeout_s=120, first_token_timeout_s=120)
    model = CloudChatModel(config, api_key=llama.api_key)
    body = request_json(request, model="smollm2")
    client = httpx.AsyncClient(
        base_url=llama.base_url + "/", headers={"Authorization": f"Bearer {llama.api_key}"}, timeout=120
    )
    bare: list[tuple[float, float, int]] = []
    ours: list[tuple[float, float, int]] = []
    try:
        await bare_stream(client, body)  # warm both paths (connections, prompt cache)
        await qira_stream(model, request)
        for i in range(runs):
            # alternate the order so drift on a shared machine hits both sides alike
            if i % 2:
                ours.append(await qira_stream(model, request))
                bare.append(await bare_stream(client, body))
            else:
                bare.append(await bare_stream(client, body))
                ours.append(await qira_stream(model, request))
    finally:
        await client.aclose()
        await model.aclose()
        llama.close()
    paired = [(q[1] - b[1]) / b[1] * 100 for q, b in zip(ours, bare, strict=True)]
    b_ttft, b_total = median([r[0] for r in bare]), median([r[1] for r in bare])
    q_ttft, q_total = median([r[0] for r in ours]), median([r[1] for r in ours])
    overhead_total = (q_total - b_total) / b_total * 100
    return {
        "runs": runs,
        "max_tokens": max_tokens,
        "tokens_per_answer": ours[0][2] if ours else 0,
        "bare_httpx": {"ttft_ms": b_ttft * 1000, "total_ms": b_total * 1000},
        "qira_cloud": {"ttft_ms": q_ttft * 1000, "total_ms": q_total * 1000},
        "ttft_overhead_ms": (q_ttft - b_ttft) * 1000,
        "ttft_overhead_pct": (q_ttft - b_ttft) / b_ttft * 100,
        "total_overhead_pct": overhead_total,
        "total_overhead_pct_paired_median": median(paired),  # run-by-run, less sensitive to drift
        "target": "total and TTFT overhead <= 5%",
        "met": overhead_total <= 5 and (q_ttft - b_ttft) / b_ttft * 100 <= 5,
    }


# -- 2. local model: LocalChatModel vs xllamacpp directly ---------------------------------


def direct_local(server: Any, body: dict[str, Any]) -> tuple[float, int]:
    tokens = 0

    def on_chunk(chunk: dict[str, Any]) -> bool:
        nonlocal tokens
        for choice in chunk.get("choices") or []:
            if (choice.get("delta") or {}).get("content"):
                tokens += 1
        return False

    started = time.perf_counter()
    server.handle_chat_completions(dict(body, stream=True), on_chunk)
    return time.perf_counter() - started, tokens


async def wrapped_local(model: LocalChatModel, request: ChatRequest) -> tuple[float, int]:
    tokens = 0
    started = time.perf_counter()
    async for delta in model.stream(request):
        if isinstance(delta, TextDelta):
            tokens += 1
    return time.perf_counter() - started, tokens


async def bench_local(local: LocalModel, runs: int, max_tokens: int) -> dict[str, Any]:
    request = ChatRequest(messages=[ChatMessage(role="user", content=PROMPT)], max_tokens=max_tokens, temperature=0.0)
    body = request_json(request, local=True)
    server = await asyncio.to_thread(local.load)
    model = LocalChatModel(local)
    direct: list[tuple[float, int]] = []
    ours: list[tuple[float, int]] = []
    await asyncio.to_thread(direct_local, server, body)  # warm-up
    for i in range(runs):
        if i % 2:
            ours.append(await wrapped_local(model, request))
            direct.append(await asyncio.to_thread(direct_local, server, body))
        else:
            direct.append(await asyncio.to_thread(direct_local, server, body))
            ours.append(await wrapped_local(model, request))
    d_tps = median([n / t for t, n in direct])
    q_tps = median([n / t for t, n in ours])
    return {
        "runs": runs,
        "max_tokens": max_tokens,
        "direct_xllamacpp_tokens_per_s": d_tps,
        "qira_local_tokens_per_s": q_tps,
        "ratio_pct": q_tps / d_tps * 100,
        "target": ">= 95% of direct",
        "met": q_tps / d_tps >= 0.95,
    }


# -- 3. router ------------------------------------------------------------------------------


def bench_router(service: InferenceService, decisions: int) -> dict[str, Any]:
    history = [
        ChatMessage(role="user" if i % 2 else "assistant", content="Tell me more about the history of Lisbon. " * 4)
        for i in range(6)
    ]
    requests = [
        ChatRequest(messages=[ChatMessage(role="user", content="What's the weather tomorrow?")]),
        ChatRequest(messages=[ChatMessage(role="user", content="Email maria@example.com my card 4111 1111 1111 1111")]),
        ChatRequest(messages=[*history, ChatMessage(role="user", content="And the food?")], max_tokens=512),
        ChatRequest(messages=[ChatMessage(role="user", content="Set a timer")], intent_confidence=0.9),
        ChatRequest(messages=[ChatMessage(role="user", content="Book a table")], tools=[{"type": "function"}]),
    ]
    times: list[float] = []
    for i in range(decisions):
        request = requests[i % len(requests)]
        started = time.perf_counter_ns()
        service.route(request)
        times.append((time.perf_counter_ns() - started) / 1e6)
    p99 = pct(times, 0.99)
    longest = max(len("".join(m.content for m in r.messages)) for r in requests)
    return {
        "decisions": decisions,
        "longest_request_chars": longest,
        "p50_ms": pct(times, 0.5),
        "p99_ms": p99,
        "max_ms": max(times),
        "target": "p99 < 1 ms",
        "met": p99 < 1.0,
    }


# -- 4. chaos -------------------------------------------------------------------------------

CHAOS_FAULTS = (
    Fault.HTTP_500,
    Fault.HTTP_503,
    Fault.RATE_LIMIT,
    Fault.RESET,
    Fault.RESET_MID,
    Fault.MALFORMED,
    Fault.TRUNCATED,
    Fault.HANG,
    Fault.HANG_MID,
    Fault.WRONG_TYPE,
)


async def bench_chaos(local: LocalModel, data_dir: Path, total: int, concurrency: int) -> dict[str, Any]:
    server = FaultServer(
        fault_rate=0.3,
        faults=CHAOS_FAULTS,
        retry_after=0.05,
        hang_s=5.0,
        token_delay_s=0.002,
        answer="Lisbon is the capital of Portugal and sits on the Tagus river.",
    ).start()
    cloud = CloudConfig(
        base_url=server.base_url,
        model="fault",
        connect_timeout_s=1.0,
        read_timeout_s=0.5,
        max_retries=2,
        backoff_base_s=0.02,
        backoff_max_s=0.5,
        breaker_failures=5,
        breaker_reset_s=1.0,
    )
    service = InferenceService(
        InferenceConfig(policy="prefer-cloud", cloud=cloud, daily_token_budget=0), local=local, data_dir=data_dir
    )
    outcome = {"cloud": 0, "fallback_before_first_token": 0, "degraded_mid_stream": 0, "routed_local": 0, "failed": 0}
    errors: list[str] = []
    semaphore = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        request = ChatRequest(
            messages=[ChatMessage(role="user", content=f"Question {i}: tell me about Lisbon.")],
            max_tokens=12,
            temperature=0.0,
        )
        async with semaphore:
            try:
                turn = service.chat(request)
                text, finish = "", None
                async for delta in turn:
                    if isinstance(delta, TextDelta):
                        text += delta.text
                    elif isinstance(delta, Finish):
                        finish = delta
                if finish is None or not text:
                    outcome["failed"] += 1
                elif turn.decision.target is Target.LOCAL:
                    outcome["routed_local"] += 1
                elif finish.degraded:
                    outcome["degraded_mid_stream"] += 1
                elif turn.answered_by is Target.LOCAL:
                    outcome["fallback_before_first_token"] += 1
                else:
                    outcome["cloud"] += 1
            except Exception as exc:  # counted, not fatal: this is what the benchmark looks for
                outcome["failed"] += 1
                errors.append(f"{type(exc).__name__}: {exc}")

    started = time.perf_counter()
    try:
        await asyncio.gather(*(one(i) for i in range(total)))
    finally:
        elapsed = time.perf_counter() - started
        await service.close()
        server.stop()
    attempts = len(server.requests)
    injected = sum(1 for r in server.requests if r.fault is not Fault.OK)
    completed = total - outcome["failed"]
    return {
        "requests": total,
        "concurrency": concurrency,
        "endpoint_calls": attempts,
        "faults_injected": injected,
        "fault_rate_observed_pct": injected / attempts * 100 if attempts else 0.0,
        **outcome,
        "completed_pct": completed / total * 100,
        "seconds": elapsed,
        "errors": errors[:5],
        "target": "100% completed",
        "met": completed == total,
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    quick = args.quick
    results: dict[str, Any] = {"quick": quick}
    print("cloud backend vs bare httpx …", flush=True)
    results["cloud_overhead"] = await bench_cloud(runs=6 if quick else 20, max_tokens=32 if quick else 64)
    with tempfile.TemporaryDirectory(prefix="qira-bench-") as tmp:
        # one thread, as for the server above: llama.cpp's threads wait on each other, so on a
        # machine shared with other work two threads make every figure noisy
        local = LocalModel(LocalModelConfig(threads=1, parallel=2), socket_dir=Path(tmp) / "run")
        try:
            print("local model vs xllamacpp directly …", flush=True)
            results["local_throughput"] = await bench_local(
                local, runs=4 if quick else 10, max_tokens=64 if quick else 128
            )
            print("router decisions …", flush=True)
            cloud = CloudConfig(base_url="http://127.0.0.1:9/v1")
            service = InferenceService(InferenceConfig(cloud=cloud), local=local, data_dir=Path(tmp))
            results["router"] = bench_router(service, decisions=5_000 if quick else 50_000)
            await service.close()
            total = 100 if quick else 500
            print(f"{total} requests, 30% injected faults …", flush=True)
            results["chaos"] = await bench_chaos(local, Path(tmp) / "chaos", total=total, concurrency=8)
        finally:
            local.close()
    return results


def summary(r: dict[str, Any]) -> str:
    c, lt, ro, ch = r["cloud_overhead"], r["local_throughput"], r["router"], r["chaos"]
    mark = {True: "met", False: "MISSED"}
    load = r["load_average_1m"]
    return "\n".join(
        [
            f"load average (1 min, 2 cores): {load['before']:.1f} before, {load['after']:.1f} after",
            f"cloud TTFT   bare {c['bare_httpx']['ttft_ms']:.1f} ms, qira {c['qira_cloud']['ttft_ms']:.1f} ms ({c['ttft_overhead_pct']:+.1f}%)",
            f"cloud total  bare {c['bare_httpx']['total_ms']:.1f} ms, qira {c['qira_cloud']['total_ms']:.1f} ms ({c['total_overhead_pct']:+.1f}%)  [{mark[c['met']]}: {c['target']}]",
            f"local        direct {lt['direct_xllamacpp_tokens_per_s']:.1f} tok/s, qira {lt['qira_local_tokens_per_s']:.1f} tok/s ({lt['ratio_pct']:.1f}%)  [{mark[lt['met']]}: {lt['target']}]",
            f"router       p50 {ro['p50_ms'] * 1000:.0f} µs, p99 {ro['p99_ms'] * 1000:.0f} µs  [{mark[ro['met']]}: {ro['target']}]",
            f"chaos        {ch['requests']} requests, {ch['faults_injected']}/{ch['endpoint_calls']} calls faulted, "
            f"{ch['completed_pct']:.1f}% completed (cloud {ch['cloud']}, fallback {ch['fallback_before_first_token']}, "
            f"degraded {ch['degraded_mid_stream']}, routed local {ch['routed_local']}) in {ch['seconds']:.1f}s  [{mark[ch['met']]}: {ch['target']}]",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    parser.add_argument("--quick", action="store_true", help="fewer runs (about a minute)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the chaos run logs every fallback at warning
    load_before = os.getloadavg()
    results = asyncio.run(main_async(args))
    # the machine is shared: the load says how much of the noise is other people's work
    results["load_average_1m"] = {"before": load_before[0], "after": os.getloadavg()[0]}
    print(summary(results))
    emit(results, args.out, show=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
