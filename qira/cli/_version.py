from __future__ import annotations

import argparse

from .. import __version__


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("version", help="print Qira's version")
    parser.set_defaults(func=lambda _args: print(f"qira {__version__}"))
