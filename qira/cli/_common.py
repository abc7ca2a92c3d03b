"""Options every command shares, and the one way commands get their config."""

from __future__ import annotations

import argparse
import re
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .._hubfile import HUB_FILE, HubInfo, read_running_hub
from ..config import Config, ensure_data_dir, load_config
from ..errors import QiraError


def add_config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", metavar="FILE", help="TOML config file (default: $QIRA_CONFIG, else <data dir>/config.toml)"
    )
    parser.add_argument(
        "--data-dir", metavar="DIR", help="where Qira keeps its data (default: the user data directory)"
    )


def positive_int(value: str) -> int:
    """An argparse type: a whole number of at least 1 (``--limit 0`` is a mistake, not "one")."""
    return _int_at_least(value, 1)


def non_negative_int(value: str) -> int:
    return _int_at_least(value, 0)


def _int_at_least(value: str, low: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < low:
        raise argparse.ArgumentTypeError(f"must be at least {low}, got {number}")
    return number


def unit_float(value: str) -> float:
    """An argparse type: a number from 0 to 1."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {value!r}") from None
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, got {value}")
    return number


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


def open_sync_store(config: Config, *, create: bool = False, readonly: bool = False) -> Any:
    """The hub's device registry, opened from another process (pair, devices). ``readonly``
    works beside a running hub and on a read-only copy of the data directory."""
    from ..sync import SyncStore  # not at import time: every command would pay for it

    if readonly:
        return SyncStore.open_readonly(existing_data_dir(config))
    return SyncStore.in_data_dir(ensure_data_dir(config) if create else existing_data_dir(config))


def existing_data_dir(config: Config) -> Path:
    """The data directory, which must already exist: a read command never creates one
    (a mistyped --data-dir would otherwise look like data that is gone)."""
    directory = config.data_dir
    if not directory.is_dir():
        raise QiraError(f"no Qira data at {directory} — is your hub using another --data-dir?")
    return directory


def running_hub(config: Config) -> HubInfo | None:
    """The hub serving this data directory right now, from its ``hub.json`` (a stale one is ignored)."""
    return read_running_hub(config.data_dir)


def admin_call(hub: HubInfo, op: str, args: dict[str, Any] | None = None, *, timeout: float = 120.0) -> Any:
    """Run an admin operation in the running hub (see :mod:`qira.api.admin`)."""
    import httpx

    from ..api.admin import ADMIN_PATH

    url = hub.http_url + ADMIN_PATH
    try:
        response = httpx.post(
            url,
            json={"op": op, "args": args or {}},
            timeout=httpx.Timeout(timeout, connect=5.0),
            headers={"Authorization": f"Bearer {hub.admin_secret}"},
        )
        body = response.json()
    except httpx.HTTPError as exc:
        raise QiraError(
            f"the hub (pid {hub.pid}, {Path(hub.data_dir) / HUB_FILE}) is not answering at "
            f"{hub.http_url}: {type(exc).__name__}: {exc}"
        ) from exc
    except ValueError as exc:
        raise QiraError(
            f"the hub at {hub.http_url} answered HTTP {response.status_code} with no JSON: is it an older Qira?"
        ) from exc
    if not isinstance(body, dict) or not body.get("ok"):
        message = body.get("message") if isinstance(body, dict) else None
        raise QiraError(message or f"the hub refused {op} (HTTP {response.status_code})")
    return body.get("result")


_DEVICE_NAME = re.compile(r"^[^\W_][\w.\- ]{0,38}[\w.]$|^[^\W_]$")


def device_name(value: str) -> str:
    """An argparse type: a device name people can type and read back. Letters, digits,
    ``-``, ``_``, ``.`` and inner spaces, 1 to 40 characters; no slashes (the name is
    also the device's state directory) and no control characters."""
    if not _DEVICE_NAME.match(value) or "  " in value:
        raise argparse.ArgumentTypeError(
            f"device name {value!r}: use 1 to 40 letters, digits, '-', '_' or '.', starting with a letter or "
            "digit (e.g. my-phone)"
        )
    return value
