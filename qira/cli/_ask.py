"""``qira ask "..."``: one question, answered in this process, streamed to the terminal.

The route and its reason go to stderr (with ``--explain``) so stdout carries only
the answer and can be piped.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from .._logging import setup_logging
from ..config import ensure_data_dir, load_config
from ..devices import DeviceKind
from ..inference import ChatMessage, ChatRequest, Finish, InferenceService, LocalModel, TextDelta
from ._common import add_config_options


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("ask", help="ask one question; the answer streams to the terminal")
    parser.add_argument("question", help="what to ask")
    add_config_options(parser)
    parser.add_argument("--explain", action="store_true", help="show where the question was answered, and why")
    parser.add_argument("--policy", choices=["local-only", "prefer-local", "prefer-cloud"], help="override the routing policy")
    parser.add_argument("--device", choices=[k.value for k in DeviceKind], help="answer as if asked from this kind of device")
    parser.add_argument("--max-tokens", type=int, default=256, help="longest answer, in tokens (default 256)")
    parser.add_argument("--system", help="a system prompt")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    overrides: dict[str, dict[str, object]] = {}
    if args.data_dir:
        overrides["hub"] = {"data_dir": args.data_dir}
    if args.policy:
        overrides["inference"] = {"policy": args.policy}
    config = load_config(args.config, overrides=overrides)
    # The fallback note below says what matters; log lines would interleave with the answer.
    setup_logging("debug" if config.hub.log_level == "debug" else "error")
    messages = [ChatMessage(role="system", content=args.system)] if args.system else []
    messages.append(ChatMessage(role="user", content=args.question))
    request = ChatRequest(messages=messages, max_tokens=args.max_tokens)
    device = DeviceKind(args.device) if args.device else None
    return asyncio.run(_ask(config, request, device=device, explain=args.explain))


async def _ask(config, request: ChatRequest, *, device: DeviceKind | None, explain: bool) -> int:
    data_dir = ensure_data_dir(config)
    local = LocalModel(config.inference.local, socket_dir=data_dir / "run")
    service = InferenceService(config.inference, local=local, data_dir=data_dir)
    out = sys.stdout
    try:
        turn = service.chat(request, device_kind=device)
        if explain:
            print(f"route: {turn.decision.explain()}", file=sys.stderr, flush=True)
        finish: Finish | None = None
        async with turn:
            async for delta in turn:
                if isinstance(delta, TextDelta):
                    out.write(delta.text)
                    out.flush()
                elif isinstance(delta, Finish):
                    finish = delta
        out.write("\n")
        out.flush()
        if turn.fallback:
            print(f"note: {turn.fallback}", file=sys.stderr)
        if explain and finish is not None:
            print(f"answered by: {turn.answered_by.value} (finish: {finish.reason}{', degraded' if finish.degraded else ''})", file=sys.stderr)
    finally:
        await service.close()
        await asyncio.to_thread(local.close)
    return 0
