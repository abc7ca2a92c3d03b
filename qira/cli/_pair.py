"""``qira pair``: a one-time code (valid 10 minutes, single use) for a new device,
or with ``--token`` a device token at once (for an OpenAI client or a script).

With a hub running on the data directory the code is made by that hub (so it is
the one that accepts it) and the printed ``--hub`` URL is where it really listens.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from typing import Any
from urllib.parse import quote

from .._hubfile import hub_urls
from ..api.admin import pair_op
from ._common import add_config_options, admin_call, config_from_args, device_name, open_sync_store, running_hub

KINDS = ("pc", "phone", "tablet", "wearable")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("pair", help="print a one-time pairing code for a new device")
    add_config_options(parser)
    parser.add_argument(
        "--name",
        required=True,
        type=device_name,
        help="the device's name, unique among paired devices (letters, digits, - _ .)",
    )
    parser.add_argument("--kind", required=True, choices=KINDS)
    parser.add_argument(
        "--token",
        action="store_true",
        help="create the device now and print its token (the API key for the OpenAI-compatible API)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    qr = parser.add_mutually_exclusive_group()
    qr.add_argument(
        "--qr",
        dest="qr",
        action="store_true",
        default=None,
        help="show the pairing link as a QR code (default: on a terminal, for phones and tablets)",
    )
    qr.add_argument("--no-qr", dest="qr", action="store_false", help="never show a QR code")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    hub = running_hub(config)
    request = {"name": args.name, "kind": args.kind, "token": args.token}
    if hub is not None:
        result: dict[str, Any] = admin_call(hub, "pair", request)
        http_url, ws_url = hub.http_url, hub.ws_url
    else:
        # No hub yet: the code waits in the data directory for the hub that starts on it.
        store = open_sync_store(config, create=True)
        try:
            result = pair_op(store, args.name, args.kind, token=args.token, ttl_s=config.sync.pairing_code_ttl_s)
        finally:
            store.close()
        http_url, ws_url = hub_urls(config.hub.host, config.hub.port, tls=bool(config.hub.tls_cert))
    name = shlex.quote(args.name)
    if args.token:
        if args.json:
            print(json.dumps({**result, "hub": ws_url}))
        else:
            print(f"token for {args.kind} {args.name!r} (shown once; Qira keeps only its hash):")
            print(result["token"])
        return 0
    code = result["code"]
    link = f"{_device_http(http_url, ws_url)}/#pair={code}&name={quote(args.name)}&kind={args.kind}"
    if args.json:
        print(json.dumps({**result, "hub": ws_url, "link": link, "companion": link, "hub_running": hub is not None}))
        return 0
    minutes = config.sync.pairing_code_ttl_s / 60
    print(f"pairing code for {args.kind} {args.name!r}: {code}")
    print(f"  valid {minutes:g} minutes, single use. On the device:")
    print(f"  qira device run --kind {args.kind} --name {name} --hub {ws_url} --pair {code}")
    print(f"  or open the companion web app on a phone or tablet: {link}")
    if hub is None:
        print(
            f"  note: no hub is running on {config.data_dir}; the code works once `qira serve` starts there "
            f"({ws_url} if it keeps the configured port)"
        )
    show_qr = args.qr if args.qr is not None else (sys.stdout.isatty() and args.kind in ("phone", "tablet"))
    if show_qr:
        _print_qr(link)
    return 0


def _device_http(http_url: str, ws_url: str) -> str:
    """The hub's HTTP address as a device sees it (the host of its ws:// or wss:// URL)."""
    scheme, _, rest = ws_url.partition("://")
    host = rest.split("/", 1)[0]
    return f"{'https' if scheme == 'wss' else 'http'}://{host}" if host else http_url


def _print_qr(link: str) -> None:
    import segno

    print()
    segno.make(link, error="m").terminal(out=sys.stdout, compact=True)
