"""``qira mcp``: Qira's skills as an MCP server over stdio, for Claude Desktop or any
MCP client (see docs/mcp.md). Through the running hub when there is one, else in-process."""

from __future__ import annotations

import argparse

from .._logging import setup_logging
from ._common import add_config_options, config_from_args


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("mcp", help="serve your skills to an MCP client over stdio")
    add_config_options(parser)
    parser.add_argument(
        "--name",
        default="mcp",
        help="this client's device name: paired on first use, its token kept in <data dir>/mcp/ (default: mcp)",
    )
    parser.add_argument("--token", help="use this device token instead (from `qira pair --token`)")
    parser.add_argument(
        "--local", action="store_true", help="run in this process (refused while a hub runs on the data directory)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..mcp import serve_stdio

    config = config_from_args(args)
    # stdout is the MCP wire: log lines go to stderr, and only warnings
    setup_logging("debug" if config.hub.log_level == "debug" else "warning")
    return serve_stdio(config, name=args.name, token=args.token, local=args.local)
