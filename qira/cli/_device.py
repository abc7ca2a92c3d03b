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
    run_parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from device_adapters import _terminal

    if args.state:
        state = Path(args.state).expanduser()
    else:
        state = config_from_args(args).data_dir / "devices" / args.name
    return asyncio.run(_terminal.run_terminal(args.hub, kind=args.kind, name=args.name, state_dir=state,
                                              pair_code=args.pair, json_lines=args.json))
