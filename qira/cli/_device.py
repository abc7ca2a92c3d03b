"""``qira device run``: run a reference device adapter in plain terminal mode."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from ._common import add_config_options, config_from_args

KINDS = ("pc", "phone", "tablet", "wearable")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("device", help="run a device adapter (terminal mode)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    run_parser = actions.add_parser("run", help="connect to a hub: type text, see what arrives")
    add_config_options(run_parser)
    run_parser.add_argument("--kind", required=True, choices=KINDS)
    run_parser.add_argument("--hub", required=True, help="the hub's WebSocket URL, e.g. ws://127.0.0.1:8765/ws")
    run_parser.add_argument("--name", required=True)
    run_parser.add_argument("--pair", metavar="CODE", help="a pairing code from `qira pair` (first run only)")
    run_parser.add_argument("--state", metavar="DIR", help="where the device keeps its token, outbox and replica")
    run_parser.add_argument("--json", action="store_true", help="print every event as one JSON object per line")
    # issue 15: the wearable's translation mode and push-to-talk voice chat
    run_parser.add_argument("--mic", metavar="SOURCE",
                            help="wearable: stream audio from a WAV file, - (stdin) or mic (the sound card)")
    run_parser.add_argument("--translate", metavar="MINE:THEIRS",
                            help="wearable: translation mode between two languages, e.g. en:pt")
    run_parser.add_argument("--language", default="en", help="wearable: your language for voice chat (no --translate)")
    run_parser.add_argument("--conversation", metavar="ID", help="wearable: continue this conversation")
    run_parser.add_argument("--speech-out", metavar="DIR", help="wearable: write the speech the hub sends as WAV files")
    run_parser.add_argument("--play", action="store_true", help="wearable: play the speech the hub sends")
    run_parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from device_adapters import _terminal

    if args.mic or args.translate:
        return _run_wearable(args)
    if args.state:
        state = Path(args.state).expanduser()
    else:
        state = config_from_args(args).data_dir / "devices" / args.name
    return asyncio.run(_terminal.run_terminal(args.hub, kind=args.kind, name=args.name, state_dir=state,
                                              pair_code=args.pair, json_lines=args.json))


def _run_wearable(args: argparse.Namespace) -> int:
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
            print("error: --translate takes two different languages as MINE:THEIRS, e.g. en:pt "
                  f"(got {args.translate!r})", file=sys.stderr)
            return 2
        languages = [mine.strip(), theirs.strip()]
    else:
        languages = [args.language]
    state = Path(args.state).expanduser() if args.state else config_from_args(args).data_dir / "devices" / args.name
    return asyncio.run(wearable.run_wearable(
        args.hub, name=args.name, state_dir=state, mic=args.mic, languages=languages, pair_code=args.pair,
        conversation=args.conversation, speech_out=Path(args.speech_out) if args.speech_out else None,
        play=args.play, json_lines=args.json))
