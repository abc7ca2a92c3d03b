"""The ``qira`` command. Each subcommand lives in its own module with a ``register``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ..errors import ConfigError, QiraError

__all__ = ["main"]

# module names under qira.cli, in the order they appear in --help
COMMANDS = ("_serve", "_ask", "_memory", "_pair", "_devices", "_device", "_skill", "_audit", "_doctor", "_version",
            "_mcp")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qira", description="Qira: a personal AI agent across your devices.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"qira: config error: {exc}", file=sys.stderr)
        return 2
    except QiraError as exc:
        print(f"qira: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
