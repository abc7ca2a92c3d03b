"""Support for the companion's tests and benchmark: Debian's chromium through Playwright,
a Python device (``device_adapters.DeviceSession``) on its own event loop beside the
browser, and the hub set up with a scripted cloud model and a risky test skill."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from device_adapters import DeviceSession

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "device_adapters" / "companion" / "web"
SHIPPED = ROOT / "qira" / "api" / "static" / "companion"
ARTIFACTS = ROOT / "tests" / "artifacts" / "companion"
AXE = WEB / "node_modules" / "axe-core" / "axe.min.js"

Event = dict[str, Any]

RISKY_SKILL = textwrap.dedent("""
    from qira.sdk import SkillContext, skill


    @skill(description="Water the garden with the sprinklers", examples=["water the garden"],
           patterns=["water the garden"], risk="high")
    async def water_garden(ctx: SkillContext) -> str:
        return "Watered the garden."


    SKILLS = [water_garden]
""")


def chromium_path() -> str:
    """Debian's chromium (``make browser`` installs it); Playwright never downloads one here."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise RuntimeError("chromium is not installed: run `make browser` (apt-get install chromium)")
    return found


def install_skill(site: Path) -> None:
    """What ``pip install`` of a skill package leaves behind: a module and its entry point."""
    site.mkdir(parents=True, exist_ok=True)
    (site / "qira_companion_skills.py").write_text(RISKY_SKILL)
    info = site / "qira_companion_skills-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: qira-companion-skills\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[qira.skills]\ncompanion = qira_companion_skills:SKILLS\n")


def hub_env(cloud_url: str, site: Path) -> dict[str, str]:
    """A hub whose open questions (no confident skill match) go to the scripted cloud model: deterministic
    streaming; skills the person names still run locally."""
    return {
        "QIRA_HUB_WARM_UP": "false",
        "QIRA_INFERENCE_POLICY": "prefer-local",
        "QIRA_INFERENCE_CLOUD__BASE_URL": cloud_url,
        "QIRA_INFERENCE_CLOUD__MODEL": "scripted",
        "QIRA_INFERENCE_CLOUD__MAX_RETRIES": "0",
        "PYTHONPATH": str(site),
    }


def pair_link(data_dir: Path, name: str, kind: str) -> dict[str, Any]:
    """``qira pair --json``: the one-time code and the companion's pairing link."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "qira.cli",
            "pair",
            "--name",
            name,
            "--kind",
            kind,
            "--json",
            "--data-dir",
            str(data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


class PyDevice:
    """A ``DeviceSession`` running on its own asyncio loop in a thread."""

    def __init__(self, hub_ws: str, state_dir: Path, *, name: str, kind: str, code: str | None) -> None:
        self.name = name
        self.events: list[Event] = []
        self._cond = threading.Condition()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=f"device-{name}", daemon=True)
        self._thread.start()

        async def make() -> DeviceSession:
            session = DeviceSession(
                hub_ws,
                name=name,
                kind=kind,
                state_dir=state_dir,
                pair_code=code,
                capabilities={"screen": True},
                on_event=self._on_event,
            )
            session.start()
            await session.wait_ready(60)
            await session.wait_synced(60)
            return session

        self.session: DeviceSession = self.run(make())

    def _on_event(self, event: Event) -> None:
        with self._cond:
            self.events.append({**event, "_at": time.time()})  # when it reached this device (the benchmark)
            self._cond.notify_all()

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 90.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the session's loop (its documents are not thread-safe)."""

        async def wrapped() -> Any:
            return fn()

        return self.run(wrapped())

    def mark(self) -> int:
        with self._cond:
            return len(self.events)

    def wait(self, match: Callable[[Event], bool], *, after: int = 0, timeout: float = 90.0) -> Event:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self.events[after:]:
                    if match(event):
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    tail = [e.get("type") for e in self.events[-30:]]
                    raise AssertionError(f"{self.name}: no matching event in {timeout}s; last: {tail}")
                self._cond.wait(min(left, 0.2))

    def request(self, type_: str, payload: dict[str, Any] | None = None, timeout: float = 90.0) -> Any:
        return dict(self.run(self.session.request(type_, payload or {}, timeout=timeout), timeout + 5))

    def ask(self, text: str, *, thread: str | None = None, timeout: float = 120.0) -> Event:
        """Say ``text`` (in ``thread``) and wait for the answer to that turn."""
        start = self.mark()
        result = self.request("chat.send", {"text": text, **({"thread": thread} if thread else {})})
        return self.wait(
            lambda e: e.get("type") == "chat.done" and e.get("turn") == result["turn"], after=start, timeout=timeout
        )

    def close(self) -> None:
        try:
            self.run(self.session.close(), 15)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)
