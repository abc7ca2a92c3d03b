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
    run_parser = actions.add_parser("run", help="connect to a hub: type text, see what arrives",
                                    epilog=f"exit status:\n{codes}",
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_options(run_parser)
    run_parser.add_argument("--kind", required=True, choices=KINDS)
    run_parser.add_argument("--hub", help="the hub's WebSocket URL, e.g. ws://127.0.0.1:8765/ws "
                                          "(default: the hub running on the data directory)")
    run_parser.add_argument("--name", required=True, type=device_name)
    run_parser.add_argument("--pair", metavar="CODE", help="a pairing code from `qira pair` (first run only)")
    run_parser.add_argument("--state", metavar="DIR", help="where the device keeps its token, outbox and replica")
    run_parser.add_argument("--json", action="store_true", help="print every event as one JSON object per line")
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
    state = Path(args.state).expanduser() if args.state else config.data_dir / "devices" / args.name
    return asyncio.run(_terminal.run_terminal(hub, kind=args.kind, name=args.name, state_dir=state,
                                              pair_code=args.pair, json_lines=args.json))
