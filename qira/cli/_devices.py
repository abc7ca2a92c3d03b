"""``qira devices list`` and ``qira devices revoke NAME``."""

from __future__ import annotations

import argparse
import datetime
import json
from typing import Any

from ..api.admin import devices_op, revoke_op
from ._common import add_config_options, admin_call, config_from_args, device_name, open_sync_store, running_hub


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("devices", help="list or revoke paired devices")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="paired devices: name, kind, online, last seen, capabilities")
    add_config_options(listing)
    listing.add_argument("--json", action="store_true", help="one JSON object per device, one per line")
    listing.set_defaults(func=run_list)
    revoke = actions.add_parser("revoke", help="revoke a device: its token stops working, its connection closes")
    add_config_options(revoke)
    revoke.add_argument("name", type=device_name)
    revoke.set_defaults(func=run_revoke)


def _call(
    args: argparse.Namespace, op: str, request: dict[str, Any], local: Any, *, readonly: bool = False
) -> dict[str, Any]:
    """In the running hub when there is one (it knows who is online now), else on the data directory."""
    config = config_from_args(args)
    hub = running_hub(config)
    if hub is not None:
        return admin_call(hub, op, request)
    store = open_sync_store(config, readonly=readonly)
    try:
        return local(store)
    finally:
        store.close()


def _when(ts: float | None) -> str:
    if ts is None:
        return "never"
    return datetime.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def run_list(args: argparse.Namespace) -> int:
    devices = _call(args, "devices.list", {}, devices_op, readonly=True)["devices"]
    if args.json:
        for d in devices:
            print(json.dumps(d))
        return 0
    if not devices:
        print("no paired devices: pair one with `qira pair --name NAME --kind KIND`")
        return 0
    names = [repr(d["name"]) if _needs_quotes(d["name"]) else d["name"] for d in devices]
    width = max(4, *(len(n) for n in names))
    print(f"{'NAME':<{width}}  {'KIND':<8}  {'ONLINE':<6}  {'LAST SEEN':<19}  CAPABILITIES")
    for shown, d in zip(names, devices, strict=True):
        caps = ", ".join(f"{k}={v}" for k, v in sorted(d["capabilities"].items()) if v not in (None, False)) or "-"
        online = "yes" if d["online"] else "no"
        print(f"{shown:<{width}}  {d['kind']:<8}  {online:<6}  {_when(d['last_seen']):<19}  {caps}")
    return 0


def _needs_quotes(name: str) -> bool:
    return not name or any(not (c.isalnum() or c in "-_.") for c in name)


def run_revoke(args: argparse.Namespace) -> int:
    device = _call(args, "devices.revoke", {"name": args.name}, lambda store: revoke_op(store, args.name))
    print(f"revoked {device['name']!r} ({device['kind']}, {device['id']}): its connection closes within a second")
    return 0
