"""The cloud's first-token deadline (issue 12): what a healthy endpoint needs, and what a
hanging one costs a turn, side by side in one run.

    python bench/first_token.py --out bench/results/first_token.json [--quick]

1. healthy: time to the first token through Qira's cloud backend from a real llama.cpp
   server (SmolLM2, the stand-in gigafactory) for a short question and for a long
   conversation (the router sends those to the cloud), one at a time and two at once;
2. hanging: an endpoint that accepts the request and never answers, through the whole
   service: how long until the person sees the local model's first token, with the
   deadline and with only the read timeout (shortened to ``--read-timeout`` so the run
   stays short; the default read timeout is 60 s).

The default deadline (``inference.cloud.first_token_timeout_s``) must sit well above (1)'s
worst case, with room for real endpoints with larger models and queues, and far below the
read timeout: the figures below are what it was chosen from.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _report import emit  # noqa: E402  (bench/ is on sys.path when run as a script)

from qira.config import CloudConfig, InferenceConfig, LocalModelConfig  # noqa: E402
from qira.inference import (  # noqa: E402
    ChatMessage,
    ChatRequest,
    CloudChatModel,
    InferenceService,
    LocalModel,
    TextDelta,
)
from tests.inference.servers import Fault, FaultServer, LlamaServer  # noqa: E402

SHORT = [ChatMessage(role="user", content="What is the capital of France?")]
LONG = [
    ChatMessage(
        role="user" if i % 2 == 0 else "assistant",
        content=f"Turn {i}: let us talk about lighthouses, their keepers and the sea around them. " * 3,
    )
    for i in range(12)
] + [ChatMessage(role="user", content="Summarise what we said.")]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


async def first_token(model: CloudChatModel, messages: list[ChatMessage]) -> float:
    started = time.perf_counter()
    async for delta in model.stream(ChatRequest(messages=messages, max_tokens=8)):
        if isinstance(delta, TextDelta) and delta.text:
            return time.perf_counter() - started
    return time.perf_counter() - started


async def healthy(runs: int) -> dict[str, Any]:
    server = LlamaServer(api_key="bench", threads=2, parallel=2)
    model = CloudChatModel(
        CloudConfig(base_url=server.base_url, read_timeout_s=120, first_token_timeout_s=120), api_key="bench"
    )
    out: dict[str, Any] = {}
    try:
        await first_token(model, SHORT)  # warm the server's cache and the connection
        for name, messages in (("short", SHORT), ("long", LONG)):
            alone = [await first_token(model, messages) for _ in range(runs)]
            pairs: list[float] = []
            for _ in range(max(1, runs // 2)):
                pairs += await asyncio.gather(first_token(model, messages), first_token(model, messages))
            out[name] = {
                "alone_p50_s": round(statistics.median(alone), 3),
                "alone_max_s": round(max(alone), 3),
                "two_at_once_p50_s": round(statistics.median(pairs), 3),
                "two_at_once_max_s": round(max(pairs), 3),
            }
    finally:
        await model.aclose()
        server.close()
    return out


async def hanging(deadline_s: float, read_timeout_s: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        local = LocalModel(LocalModelConfig(threads=2), socket_dir=Path(tmp))
        await asyncio.to_thread(local.load)
        out: dict[str, Any] = {}
        try:
            with FaultServer(hang_s=read_timeout_s * 3) as endpoint:
                for label, first_token_s in (("with_deadline", deadline_s), ("read_timeout_only", 10 * read_timeout_s)):
                    endpoint.script(Fault.HANG)
                    cloud = CloudConfig(
                        base_url=endpoint.base_url,
                        model="test",
                        read_timeout_s=read_timeout_s,
                        first_token_timeout_s=first_token_s,
                        max_retries=0,
                    )
                    service = InferenceService(
                        InferenceConfig(policy="prefer-cloud", cloud=cloud), local=local, data_dir=Path(tmp)
                    )
                    started = time.perf_counter()
                    seen = None
                    async for delta in service.chat(ChatRequest(messages=SHORT, max_tokens=8)):
                        if seen is None and isinstance(delta, TextDelta) and delta.text:
                            seen = time.perf_counter() - started
                    out[label] = {"first_answer_token_s": round(seen or float("nan"), 2)}
                    await service.close()
        finally:
            await asyncio.to_thread(local.close)
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--deadline", type=float, default=CloudConfig().first_token_timeout_s)
    parser.add_argument("--read-timeout", type=float, default=20.0)
    args = parser.parse_args()
    runs = 3 if args.quick else 10
    result: dict[str, Any] = {
        "runs": runs,
        "default_first_token_timeout_s": CloudConfig().first_token_timeout_s,
        "default_read_timeout_s": CloudConfig().read_timeout_s,
    }
    result["healthy_endpoint"] = asyncio.run(healthy(runs))
    result["hanging_endpoint"] = asyncio.run(hanging(args.deadline, args.read_timeout))
    worst = max(v["two_at_once_max_s"] for v in result["healthy_endpoint"].values())
    result["deadline_over_worst_healthy"] = round(args.deadline / worst, 1) if worst else None
    hang = result["hanging_endpoint"]
    result["speedup_on_a_hang"] = round(
        hang["read_timeout_only"]["first_answer_token_s"] / hang["with_deadline"]["first_answer_token_s"], 1
    )
    emit(result, args.out)


if __name__ == "__main__":
    main()
