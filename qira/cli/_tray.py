"""``qira tray``: the desktop tray app (a ``pc`` device), and its start-at-login switch."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

import platformdirs

from ._common import add_config_options, config_from_args

_LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0", ""}


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("tray", help="the desktop tray app: status, approvals, notifications")
    add_config_options(parser)
    parser.add_argument(
        "--hub", metavar="URL", help="the hub's WebSocket URL (default: this machine's hub, from config)"
    )
    parser.add_argument("--name", default="tray", help="this tray's device name (default: tray)")
    parser.add_argument("--pair", metavar="CODE", help="a pairing code, for a hub on another machine (first run only)")
    parser.add_argument(
        "--state", metavar="DIR", help="where the tray keeps its token (default: <data dir>/devices/NAME)"
    )
    parser.add_argument(
        "--autostart",
        choices=("on", "off", "status"),
        help="turn start-at-login on or off (an XDG autostart entry; off by default), then exit",
    )
    parser.add_argument("--no-notifications", action="store_true", help="do not raise desktop notifications")
    parser.add_argument(
        "--wait-for-tray",
        type=float,
        default=5.0,
        metavar="S",
        help="how long to wait for a system tray host (default 5 s)",
    )
    parser.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    parser.set_defaults(func=run)


def settings_from_args(args: argparse.Namespace):  # -> device_adapters.tray.TraySettings
    from device_adapters.tray import TraySettings

    config = config_from_args(args)
    config_args: list[str] = []
    if args.config:
        config_args += ["--config", str(Path(args.config).expanduser().resolve())]
    if args.data_dir:
        config_args += ["--data-dir", str(Path(args.data_dir).expanduser().resolve())]
    if args.hub:
        parts = urlsplit(args.hub)
        host, port = parts.hostname or "127.0.0.1", parts.port or config.hub.port
        hub_url = args.hub
    else:
        host = "127.0.0.1" if config.hub.host in ("0.0.0.0", "::", "") else config.hub.host
        port = config.hub.port
        hub_url = f"ws://{host}:{port}/ws"
    scheme = "https" if hub_url.startswith("wss:") else "http"
    url_host = f"[{host}]" if ":" in host else host
    state = Path(args.state).expanduser() if args.state else config.data_dir / "devices" / args.name
    argv = [sys.executable, "-m", "qira.cli", "tray", *config_args, "--name", args.name]
    if args.hub:
        argv += ["--hub", args.hub]
    if args.state:
        argv += ["--state", str(state.resolve())]
    return TraySettings(
        hub_url=hub_url,
        companion_url=f"{scheme}://{url_host}:{port}/",
        name=args.name,
        state_dir=state,
        config_args=tuple(config_args),
        serve_args=(*config_args, "--host", host, "--port", str(port)),
        hub_local=host in _LOOPBACK,
        autostart_dir=platformdirs.user_config_path() / "autostart",
        autostart_argv=tuple(argv),
        pair_code=args.pair,
        notifications=not args.no_notifications,
    )


def run(args: argparse.Namespace) -> int:
    from device_adapters.tray._autostart import autostart_enabled, disable_autostart, enable_autostart

    settings = settings_from_args(args)
    directory = settings.autostart_dir
    assert directory is not None
    if args.autostart == "on":
        print(f"start at login: on ({enable_autostart(directory, settings.autostart_argv)})")
        return 0
    if args.autostart == "off":
        disable_autostart(directory)
        print("start at login: off")
        return 0
    if args.autostart == "status":
        print(f"start at login: {'on' if autostart_enabled(directory) else 'off'}")
        return 0
    # The tray idles all day: run it in a lean process (same pid), not in this one that
    # imported every subcommand and most of the hub. --in-process keeps it here (tests, debugging).
    level = config_from_args(args).hub.log_level
    argv = [sys.executable, "-m", "device_adapters.tray", settings.to_json(), str(args.wait_for_tray), level]
    if args.in_process:
        from device_adapters.tray.__main__ import main

        return main(argv[2:])
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)
    return 0  # not reached
