"""``qira device run``: run a reference device adapter in plain terminal mode."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from ..errors import QiraError
from ._common import add_config_options, config_from_args, device_name, running_hub

KINDS = ("pc", "phone", "tablet", "wearable")


# device_adapters._terminal.EXIT_CODES, repeated so `qira --help` does not import the device
# session (a test keeps the two equal)
EXIT_CODES = {
    0: "the input ended (or /quit) and everything typed was delivered",
    1: "something else went wrong (the message says what)",
    2: "the --hub URL is not a Qira WebSocket URL (ws://HOST:PORT/ws)",
    3: "no hub answered at that URL",
    4: "the hub refused the pairing code or the device's token",
    5: "the device was revoked",
    6: "another connection of the same device replaced this one",
    7: "the hub and this device speak different protocol versions",
}


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("device", help="run a device adapter (terminal mode)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    codes = "\n".join(f"  {code}  {meaning}" for code, meaning in EXIT_CODES.items())
    run_parser = actions.add_parser(
        "run",
        help="connect to a hub: type text, see what arrives",
        epilog=f"exit status:\n{codes}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_options(run_parser)
    run_parser.add_argument("--kind", required=True, choices=KINDS)
    run_parser.add_argument(
        "--hub",
        help="the hub's WebSocket URL, e.g. ws://127.0.0.1:8765/ws (default: the hub running on the data directory)",
    )
    run_parser.add_argument("--name", required=True, type=device_name)
    run_parser.add_argument("--pair", metavar="CODE", help="a pairing code from `qira pair` (first run only)")
    run_parser.add_argument("--state", metavar="DIR", help="where the device keeps its token, outbox and replica")
    run_parser.add_argument("--json", action="store_true", help="print every event as one JSON object per line")
    # issue 15: the wearable's translation mode and push-to-talk voice chat
    run_parser.add_argument(
        "--mic", metavar="SOURCE", help="wearable: stream audio from a WAV file, - (stdin) or mic (the sound card)"
    )
    run_parser.add_argument(
        "--translate", metavar="MINE:THEIRS", help="wearable: translation mode between two languages, e.g. en:pt"
    )
    run_parser.add_argument("--language", default="en", help="wearable: your language for voice chat (no --translate)")
    run_parser.add_argument("--conversation", metavar="ID", help="wearable: continue this conversation")
    run_parser.add_argument("--speech-out", metavar="DIR", help="wearable: write the speech the hub sends as WAV files")
    run_parser.add_argument("--play", action="store_true", help="wearable: play the speech the hub sends")
    run_parser.add_argument(
        "--context",
        metavar="KIND=VALUE",
        action="append",
        default=[],
        help="wearable: what it notices while streaming, sent as a context event (place=the market); repeatable",
    )
    run_parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from device_adapters import _terminal

    config = config_from_args(args)
    hub = args.hub
    if not hub:
        running = running_hub(config)
        if running is None:
            raise QiraError(f"no hub is running on {config.data_dir}: give its URL with --hub ws://HOST:PORT/ws")
        hub = running.ws_url
    if args.mic or args.translate:
        return _run_wearable(args, hub)
    state = Path(args.state).expanduser() if args.state else config.data_dir / "devices" / args.name
    return asyncio.run(
        _terminal.run_terminal(
            hub, kind=args.kind, name=args.name, state_dir=state, pair_code=args.pair, json_lines=args.json
        )
    )


def _run_wearable(args: argparse.Namespace, hub: str) -> int:
    import sys

    from device_adapters import wearable

    if args.kind != "wearable":
        print(f"error: --mic and --translate are for --kind wearable, not {args.kind}", file=sys.stderr)
        return 2
    if not args.mic:
        print("error: --translate needs --mic SOURCE (a WAV file, - for stdin, or mic)", file=sys.stderr)
        return 2
    if args.translate:
        mine, sep, theirs = args.translate.partition(":")
        if not sep or not mine.strip() or not theirs.strip() or mine.strip() == theirs.strip():
            print(
                f"error: --translate takes two different languages as MINE:THEIRS, e.g. en:pt (got {args.translate!r})",
                file=sys.stderr,
            )
            return 2
        languages = [mine.strip(), theirs.strip()]
    else:
        languages = [args.language]
    context = []
    for item in args.context:
        kind, sep, value = item.partition("=")
        if not sep or not kind.strip() or not value.strip():
            print(f"error: --context takes KIND=VALUE, e.g. place=the market (got {item!r})", file=sys.stderr)
            return 2
        context.append((kind.strip(), value.strip()))
    state = Path(args.state).expanduser() if args.state else config_from_args(args).data_dir / "devices" / args.name
    return asyncio.run(
        wearable.run_wearable(
            hub,
            name=args.name,
            state_dir=state,
            mic=args.mic,
            languages=languages,
            pair_code=args.pair,
            conversation=args.conversation,
            speech_out=Path(args.speech_out) if args.speech_out else None,
            play=args.play,
            json_lines=args.json,
            context=context,
        )
    )
