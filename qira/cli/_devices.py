"""``qira devices list`` and ``qira devices revoke NAME``."""

from __future__ import annotations

import argparse
import datetime
import json

from ..errors import QiraError
from ..sync import SyncStore
from ._common import add_config_options, config_from_args, open_sync_store


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("devices", help="list or revoke paired devices")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="paired devices: name, kind, online, last seen, capabilities")
    add_config_options(listing)
    listing.add_argument("--json", action="store_true", help="one JSON object per device, one per line")
    listing.set_defaults(func=run_list)
    revoke = actions.add_parser("revoke", help="revoke a device: its token stops working, its connection closes")
    add_config_options(revoke)
    revoke.add_argument("name")
    revoke.set_defaults(func=run_revoke)


def _store(args: argparse.Namespace) -> SyncStore:
    return open_sync_store(config_from_args(args))


def _when(ts: float | None) -> str:
    if ts is None:
        return "never"
    return datetime.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def run_list(args: argparse.Namespace) -> int:
    store = SyncStore.open_readonly(config_from_args(args).data_dir)  # beside a running hub, or a read-only copy
    try:
        devices = store.devices()
    finally:
        store.close()
    if args.json:
        for d in devices:
            print(json.dumps({"id": d.id, "name": d.name, "kind": d.kind, "online": d.online, "last_seen": d.last_seen,
                              "last_active": d.last_active, "capabilities": d.capabilities}))
        return 0
    if not devices:
        print("no paired devices: pair one with `qira pair --name NAME --kind KIND`")
        return 0
    width = max(len(d.name) for d in devices)
    print(f"{'NAME':<{width}}  {'KIND':<8}  {'ONLINE':<6}  {'LAST SEEN':<19}  CAPABILITIES")
    for d in devices:
        caps = ", ".join(f"{k}={v}" for k, v in sorted(d.capabilities.items()) if v not in (None, False)) or "-"
        print(f"{d.name:<{width}}  {d.kind:<8}  {'yes' if d.online else 'no':<6}  {_when(d.last_seen):<19}  {caps}")
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        device = store.revoke(args.name)
    finally:
        store.close()
    if device is None:
        raise QiraError(f"no paired device named {args.name!r} (see `qira devices list`)")
    print(f"revoked {device.name} ({device.kind}, {device.id}): a running hub closes its connection within a second")
    return 0
