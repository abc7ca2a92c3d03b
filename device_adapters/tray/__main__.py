"""``python -m device_adapters.tray SETTINGS_JSON [WAIT_S] [LOG_LEVEL]``: the tray's own lean process.

``qira tray`` works out the settings from the config and then replaces itself
with this (``os.execv``, same pid): the ``qira`` command imports every
subcommand and so most of the hub, which a tray idling all day should not carry.
"""

from __future__ import annotations

import logging
import sys

from . import run_tray
from ._controller import TraySettings


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(
            "usage: python -m device_adapters.tray SETTINGS_JSON [WAIT_S] [LOG_LEVEL] (run `qira tray`)",
            file=sys.stderr,
        )
        return 2
    settings = TraySettings.from_json(argv[1])
    wait_s = float(argv[2]) if len(argv) > 2 else 5.0
    level = (argv[3] if len(argv) > 3 else "info").upper()
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        datefmt="%Y-%m-%dT%H:%M:%S",
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    for noisy in ("websockets", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return run_tray(settings, wait_for_tray_s=wait_s)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv))
