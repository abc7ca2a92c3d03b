"""The ``qira`` command. Each subcommand lives in its own module with a ``register``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ..errors import ConfigError, QiraError

__all__ = ["main"]

# module names under qira.cli, in the order they appear in --help
COMMANDS = (
    "_serve",
    "_ask",
    "_memory",
    "_pair",
    "_devices",
    "_device",
    "_skill",
    "_audit",
    "_doctor",
    "_version",
    "_mcp",
    "_tray",
)


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(prog="qira", description="Qira: a personal AI agent across your devices.")
    parser.add_argument("--version", action="version", version=f"qira {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    _remember_parsers(parser)
    return parser


def _remember_parsers(parser: argparse.ArgumentParser) -> None:
    """Each (sub)command's parser knows itself, so a wrong flag prints that command's usage."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                child.set_defaults(_parser=child)
                _remember_parsers(child)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        owner: argparse.ArgumentParser = getattr(args, "_parser", parser)
        owner.error(f"unrecognized arguments: {' '.join(extra)}")
    if getattr(args, "func", None) is None:
        (getattr(args, "_parser", None) or parser).print_help()
        return 0
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
