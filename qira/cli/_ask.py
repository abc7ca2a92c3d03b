"""``qira ask "..."``: one question, answered by the agent (skills, memory, routing), so
the terminal gets the same answer a device would.

With a hub running (found through ``<data dir>/hub.json``, or ``--hub URL``) the
question goes to it over the device protocol, as the device "qira-ask" (paired once,
locally, through the data directory; its token is kept under ``devices/qira-ask``).
Without one, the agent runs in this process, with a progress line while models load.

The route and its reason go to stderr (with ``--explain``) so stdout carries only
the answer and can be piped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

from .._logging import setup_logging
from ..config import Config, ensure_data_dir, load_config
from ..devices import DeviceInfo, DeviceKind
from ._common import add_config_options, progress

DEVICE_NAME = "qira-ask"
IN_PROCESS_ONLY = ("policy", "device", "max_tokens", "system")
ANSWER_TIMEOUT_S = 600.0  # a cold local model on a busy machine can take minutes


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("ask", help="ask the agent one question; the answer streams to the terminal")
    parser.add_argument("question", help="what to ask")
    add_config_options(parser)
    parser.add_argument("--explain", action="store_true", help="show where the question was answered, and why")
    parser.add_argument(
        "--policy",
        choices=["local-only", "prefer-local", "prefer-cloud"],
        help="override the routing policy (in-process only: a running hub keeps its own)",
    )
    parser.add_argument(
        "--device",
        choices=[k.value for k in DeviceKind],
        help="answer as if asked from this kind of device (in-process only)",
    )
    parser.add_argument(
        "--hub", metavar="URL", help="the hub's WebSocket URL (default: the hub of this data directory)"
    )
    parser.add_argument("--local", action="store_true", help="run the agent in this process even if a hub is running")
    parser.add_argument("--max-tokens", type=int, help="longest model answer, in tokens (default 256; in-process only)")
    parser.add_argument("--system", help="a system prompt for the model (in-process only)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    overrides: dict[str, dict[str, object]] = {}
    if args.data_dir:
        overrides["hub"] = {"data_dir": args.data_dir}
    if args.policy:
        overrides["inference"] = {"policy": args.policy}
    config = load_config(args.config, overrides=overrides)
    # The notes below say what matters; log lines would interleave with the answer.
    setup_logging("debug" if config.hub.log_level == "debug" else "error")
    options = {"max_tokens": args.max_tokens or 256, **({"system": args.system} if args.system else {})}
    url = None if args.local else (args.hub or local_ws_url(config))
    try:
        if url:
            here_only = [f"--{name.replace('_', '-')}" for name in IN_PROCESS_ONLY if getattr(args, name) is not None]
            if here_only:  # a device's question carries none of these: say so rather than drop them silently
                print(
                    f"note: {', '.join(here_only)} not applied: the hub at {url} answers with its own settings "
                    "(--local answers in this process, when no hub is running)",
                    file=sys.stderr,
                )
            return asyncio.run(_ask_hub(config, url, args.question, explain=args.explain))
        kind = DeviceKind(args.device) if args.device else DeviceKind.PC
        return asyncio.run(_ask_here(config, args.question, kind=kind, options=options, explain=args.explain))
    except (OSError, TimeoutError) as exc:
        print(f"qira ask: {exc}", file=sys.stderr)
        return 1


def local_ws_url(config: Config) -> str | None:
    """The WebSocket URL of the hub serving this data directory (from its ``hub.json``), as
    this machine reaches it, if one is running."""
    from ._common import running_hub

    hub = running_hub(config)
    if hub is None:
        return None
    scheme, _, rest = hub.http_url.partition("://")
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/ws"


async def _ask_hub(config: Config, url: str, question: str, *, explain: bool) -> int:
    from device_adapters import DeviceSession
    from device_adapters._state import is_paired

    state_dir = ensure_data_dir(config) / "devices" / DEVICE_NAME
    code = None if is_paired(state_dir) else _pairing_code(config)
    done: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
    turn_id: dict[str, str] = {}
    seen: list[str] = []
    out = sys.stdout

    def on_event(data: dict[str, Any]) -> None:
        kind = data.get("type")
        if data.get("turn") != turn_id.get("turn"):
            return
        if kind == "chat.delta":
            seen.append(str(data.get("text", "")))
            out.write(seen[-1])
            out.flush()
        elif kind == "chat.done" and not done.done():
            done.set_result(dict(data))
        elif kind == "approval.request":
            print(f"\nwaiting for approval on your devices: {data.get('summary')}", file=sys.stderr)

    session = DeviceSession(
        url, name=DEVICE_NAME, kind="pc", state_dir=state_dir, pair_code=code, on_event=on_event, client="qira-ask/1"
    )
    session.start()
    try:
        await session.wait_ready(30)
        reply = await asyncio.wait_for(session.submit("chat.send", {"text": question}), 30)
        turn_id["turn"] = str(reply.unwrap()["turn"])
        final = await asyncio.wait_for(done, ANSWER_TIMEOUT_S)
    finally:
        await session.close()
    if not "".join(seen).strip():  # an answer that came only whole
        out.write(str(final.get("text", "")))
    out.write("\n")
    out.flush()
    if explain:
        extra = {k: v for k, v in final.items() if k not in ("text", "thread", "turn", "type", "v", "id", "seq")}
        print(f"asked the hub at {url}: " + ", ".join(f"{k}={v}" for k, v in extra.items()), file=sys.stderr)
    return 0


def _pairing_code(config: Config) -> str:
    """Pair this terminal as a device of the local hub, through the data directory (only the
    person who owns the data directory can)."""
    from ..errors import QiraError
    from ._common import open_sync_store

    store = open_sync_store(config)
    try:
        try:
            return store.create_pairing_code(DEVICE_NAME, "pc", 120)
        except QiraError:  # paired before, but its token was lost: a fresh name
            return store.create_pairing_code(f"{DEVICE_NAME}-{os.urandom(3).hex()}", "pc", 120)
    finally:
        store.close()


async def _ask_here(config: Config, question: str, *, kind: DeviceKind, options: dict[str, Any], explain: bool) -> int:
    from .._hublock import HubLock
    from ..errors import StartupError
    from ..hub import Hub

    config = config.model_copy(update={"hub": config.hub.model_copy(update={"warm_up": False})})
    # The agent here owns the data directory while it answers, as a hub would: never
    # beside a running hub (both would write its memory and device records).
    lock = HubLock(ensure_data_dir(config))
    try:
        lock.acquire()
    except StartupError as exc:
        raise StartupError(f"{exc}: ask that hub (leave out --local), or stop it to answer in this process") from exc
    try:
        with progress("loading Qira (no hub is running: answering in this process)", stream=sys.stderr):
            hub = Hub(config)
            await hub.start()
            await asyncio.to_thread(hub.embedder.load)
            await hub.agent.matcher.prepare()
        return await _answer_here(hub, question, kind=kind, options=options, explain=explain)
    finally:
        lock.release()


async def _answer_here(hub: Any, question: str, *, kind: DeviceKind, options: dict[str, Any], explain: bool) -> int:
    out = sys.stdout
    device = DeviceInfo(id=DEVICE_NAME, name="this terminal", kind=kind)
    thread = f"ask-{os.urandom(6).hex()}"
    final = None
    try:
        async for event in hub.agent.ask(device, question, options=options, thread=thread):
            if event.kind == "delta":
                out.write(event.text)
                out.flush()
            else:
                final = event
                if event.kind == "pending":
                    out.write(event.text)
        out.write("\n")
        out.flush()
        if final is not None and (final.fallback or final.degraded):
            print(f"note: {final.reason or 'the cloud failed; the local model answered'}", file=sys.stderr)
        if explain and final is not None:
            how = await hub.agent.explain(thread)
            route = how["route"]
            print(f"route: {route.get('target', 'local')}: " + "; ".join(route.get("reasons", [])), file=sys.stderr)
            intent = how["intent"]
            print(
                f"intent: {intent.get('decision', 'model')}"
                + (f" {intent['skill']}" if intent.get("skill") else "")
                + (f" ({intent['reason']})" if intent.get("reason") else ""),
                file=sys.stderr,
            )
            print(
                f"answered by: {final.route}{' (degraded)' if final.degraded else ''}, in this process",
                file=sys.stderr,
            )
    finally:
        await hub.stop()
    return 0
