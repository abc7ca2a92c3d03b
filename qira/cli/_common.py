"""Options every command shares, and the one way commands get their config."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from ..config import Config, ensure_data_dir, load_config
from ..sync import SyncStore


def add_config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="TOML config file (default: $QIRA_CONFIG, else <data dir>/config.toml)")
    parser.add_argument("--data-dir", metavar="DIR", help="where Qira keeps its data (default: the user data directory)")


def config_from_args(args: argparse.Namespace, **hub: object) -> Config:
    overrides = {"data_dir": getattr(args, "data_dir", None), **hub}
    return load_config(args.config, overrides={"hub": {k: v for k, v in overrides.items() if v is not None}})


@contextmanager
def progress(label: str, *, stream=sys.stderr) -> Iterator[None]:
    """Show that something slow is happening: a ticking line on a terminal, start and end lines otherwise."""
    started = time.perf_counter()
    done = threading.Event()
    tty = stream.isatty()

    def tick() -> None:
        while not done.wait(0.25):
            stream.write(f"\r{label} … {time.perf_counter() - started:4.1f}s")
            stream.flush()

    ticker = threading.Thread(target=tick, daemon=True) if tty else None
    if ticker:
        ticker.start()
    else:
        stream.write(f"{label} …\n")
    try:
        yield
    finally:
        done.set()
        if ticker:
            ticker.join()
        elapsed = time.perf_counter() - started
        stream.write(f"\r{label}: {elapsed:.1f}s\n" if tty else f"{label}: done in {elapsed:.1f}s\n")
        stream.flush()


def open_sync_store(config: Config) -> SyncStore:
    """The hub's device registry, opened from another process (pair, devices)."""
    return SyncStore.in_data_dir(ensure_data_dir(config))
