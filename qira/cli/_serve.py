from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import sys

from .. import __version__
from .._hubfile import hub_urls
from .._logging import setup_logging
from ..config import Config, default_data_dir
from ._common import add_config_options, config_from_args


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("serve", help="run the hub")
    add_config_options(parser)
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port for HTTP and WebSocket (default 8765; 0 picks a free one)")
    parser.add_argument(
        "--tls-cert",
        metavar="PEM",
        help="serve https:// and wss:// with this certificate (a phone needs it for the companion)",
    )
    parser.add_argument("--tls-key", metavar="PEM", help="the certificate's private key")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args, host=args.host, port=args.port, tls_cert=args.tls_cert, tls_key=args.tls_key)
    from ..hub import Hub  # heavy: only the command that runs the hub imports it

    setup_logging(config.hub.log_level)
    hub = Hub(config)

    secure = bool(config.hub.tls_cert)

    def listening(host: str, port: int) -> None:
        http_url, ws_url = hub_urls(host, port, tls=secure)
        print(f"Qira {__version__} hub listening on {http_url}", flush=True)
        print(f"  devices connect to {ws_url}", flush=True)
        print(f"  the companion web app: {http_url}/", flush=True)
        print(f"  data in {hub.data_dir}", flush=True)
        # the command as the person ran it (`make run` runs .venv/bin/qira, not on PATH), with the
        # data directory when it is not the default: another shell would otherwise pair with another one
        qira = sys.argv[0] if os.path.basename(sys.argv[0]) == "qira" else "qira"
        where = "" if hub.data_dir == default_data_dir() else f" --data-dir {shlex.quote(str(hub.data_dir))}"
        print(f"  pair a device: {qira} pair --name my-phone --kind phone{where}", flush=True)
        print(f"  cloud: {_cloud_line(config)}", flush=True)

    asyncio.run(hub.serve(on_listening=listening))
    from ..hub import exit_now

    exit_now(0)  # stopped cleanly: skip the interpreter's slow teardown (issue 9: stop within 2 s)
    return 0


def _cloud_line(config: Config) -> str:
    cloud = config.inference.cloud
    if not cloud.base_url:
        return "none configured: everything runs locally"
    key = "" if not cloud.api_key_env or cloud.api_key() else f"; {cloud.api_key_env} is not set"
    return (
        f"{cloud.base_url} model {cloud.model or '(endpoint default)'}: unknown until a probe of "
        f"/models succeeds (see /health){key}"
    )
