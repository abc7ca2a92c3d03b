from __future__ import annotations

import argparse
import asyncio
import os
import sys

from .. import __version__
from .._logging import setup_logging
from ..hub import Hub
from ._common import add_config_options, config_from_args


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("serve", help="run the hub")
    add_config_options(parser)
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port for HTTP and WebSocket (default 8765; 0 picks a free one)")
    parser.add_argument("--tls-cert", metavar="PEM",
                        help="serve https:// and wss:// with this certificate (a phone needs it for the companion)")
    parser.add_argument("--tls-key", metavar="PEM", help="the certificate's private key")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args, host=args.host, port=args.port, tls_cert=args.tls_cert, tls_key=args.tls_key)
    setup_logging(config.hub.log_level)
    hub = Hub(config)

    secure = bool(config.hub.tls_cert)

    def listening(host: str, port: int) -> None:
        http, ws = ("https", "wss") if secure else ("http", "ws")
        print(f"Qira {__version__} hub listening on {http}://{host}:{port}", flush=True)
        print(f"  devices connect to {ws}://{host}:{port}/ws", flush=True)
        print(f"  the companion web app: {http}://{host}:{port}/", flush=True)
        print(f"  data in {hub.data_dir}", flush=True)
        # the command as the person ran it (`make run` runs .venv/bin/qira, not on PATH)
        qira = sys.argv[0] if os.path.basename(sys.argv[0]) == "qira" else "qira"
        print(f"  pair a device: {qira} pair --name my-phone --kind phone", flush=True)

    asyncio.run(hub.serve(on_listening=listening))
    return 0
