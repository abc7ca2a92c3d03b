"""``qira pair``: a one-time code (valid 10 minutes, single use) for a new device,
or with ``--token`` a device token at once (for an OpenAI client or a script)."""

from __future__ import annotations

import argparse
import json

from ..errors import QiraError
from ._common import add_config_options, config_from_args, open_sync_store

KINDS = ("pc", "phone", "tablet", "wearable")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("pair", help="print a one-time pairing code for a new device")
    add_config_options(parser)
    parser.add_argument("--name", required=True, help="the device's name (unique among paired devices)")
    parser.add_argument("--kind", required=True, choices=KINDS)
    parser.add_argument("--token", action="store_true",
                        help="create the device now and print its token (the API key for the OpenAI-compatible API)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    store = open_sync_store(config)
    try:
        if args.token:
            _, token = store.issue_token(args.name, args.kind)
        else:
            code = store.create_pairing_code(args.name, args.kind, config.sync.pairing_code_ttl_s)
    except ValueError as exc:
        raise QiraError(str(exc)) from exc
    finally:
        store.close()
    if args.token:
        if args.json:
            print(json.dumps({"token": token, "name": args.name, "kind": args.kind}))
        else:
            print(f"token for {args.kind} {args.name!r} (shown once; Qira keeps only its hash):")
            print(token)
        return 0
    minutes = config.sync.pairing_code_ttl_s / 60
    companion = companion_link(config.hub.host, config.hub.port, code, tls=bool(config.hub.tls_cert))
    if args.json:
        print(json.dumps({"code": code, "name": args.name, "kind": args.kind, "ttl_s": config.sync.pairing_code_ttl_s,
                          "companion": companion}))
        return 0
    print(f"pairing code for {args.kind} {args.name!r}: {code}")
    print(f"  valid {minutes:g} minutes, single use. On the device:")
    print(f"  qira device run --kind {args.kind} --name {args.name} --hub ws://HUB:PORT/ws --pair {code}")
    print(f"  or open the companion web app on a phone or tablet: {companion}")
    return 0


def companion_link(host: str, port: int, code: str, *, tls: bool) -> str:
    """The companion's pairing link: the code rides in the fragment, which browsers never send to a server."""
    if host in ("0.0.0.0", "::", ""):
        host = "HUB"  # listening everywhere: the person picks the address the phone can reach
    elif ":" in host:
        host = f"[{host}]"
    return f"{'https' if tls else 'http'}://{host}:{port}/#pair={code}"
