"""The tray on a real desktop: Xvfb, a tray host (tint2), dunst on a private D-Bus session,
a live hub and other devices, all real processes started here. Screenshots go to
tests/artifacts/tray/ (git-ignored)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from device_adapters.tray._model import _LOOK, Icon
from tests._devices import DeviceProcess
from tests._hub import HubProcess

from ._desktop import Desktop, missing_tools, pixels_like

pytest.importorskip("PySide6.QtWidgets", reason="the Qt backend (PySide6-Essentials) is not installed")
if missing_tools():
    pytest.skip(f"desktop tools missing (make install installs them): {missing_tools()}", allow_module_level=True)

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "tray"
GREEN, GREY, BLUE = (_LOOK[i][0] for i in (Icon.READY, Icon.UNREACHABLE, Icon.CLOUD_PAUSED))
BADGE = (200, 0, 90)


def eventually(check: Callable[[], object], timeout: float = 60.0, what: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.3)


class TrayProcess:
    def __init__(self, desktop: Desktop, hub: HubProcess, state: Path, browser_log: Path) -> None:
        browser = state.parent / "browser.sh"
        browser.write_text(f'#!/bin/sh\necho "$1" >> {browser_log}\n')
        browser.chmod(0o755)
        env = {**os.environ, **desktop.env, "BROWSER": str(browser), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "qira.cli",
                "tray",
                "--data-dir",
                str(hub.data_dir),
                "--hub",
                hub.ws_url,
                "--state",
                str(state),
                "--wait-for-tray",
                "60",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def saw(self, text: str, after: int = 0) -> bool:
        return any(text in line for line in self.lines[after:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tray-desktop")
    desktop = Desktop(tmp / "desktop").start()
    hub = HubProcess(tmp / "hub")  # warming up for real: the icon shows it, then turns green
    hub.start(timeout=60)
    tray = TrayProcess(desktop, hub, tmp / "tray", tmp / "browser.log")
    from qira.sync import SyncStore

    store = SyncStore(hub.data_dir / "sync.db")
    code = store.create_pairing_code("phone", "phone", 600)
    store.close()
    phone = DeviceProcess(hub.ws_url, name="phone", kind="phone", state=tmp / "phone", code=code)
    try:
        phone.wait(lambda e: e.get("type") == "session.ready", timeout=60)
        eventually(lambda: tray.saw("connected to"), 90, "the tray connects")
        yield desktop, hub, tray, phone, tmp
    finally:
        phone.close()
        tray.stop()
        hub.stop()
        desktop.stop()
        (ARTIFACTS / "tray.log").parent.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "tray.log").write_text("".join(tray.lines))


def shot(desktop: Desktop, name: str) -> dict:
    return desktop.screenshot(ARTIFACTS / f"{name}.png")


def test_the_icon_appears_and_turns_grey_while_the_hub_is_down_then_back(world):
    desktop, hub, tray, _, _ = world
    ready = eventually(
        lambda: (c := shot(desktop, "1-ready")) and pixels_like(c, GREEN) > 200 and c,
        240,
        "a green (ready) icon in the tray, once the hub has warmed up",
    )
    assert pixels_like(ready, GREY) < 50
    pid = tray.proc.pid
    mark = len(tray.lines)
    hub.stop()
    down = eventually(
        lambda: (c := shot(desktop, "2-hub-stopped")) and pixels_like(c, GREY) > 200 and c,
        60,
        "the icon turns grey when the hub stops",
    )
    assert pixels_like(down, GREEN) < 50
    assert tray.saw("hub unreachable", mark)
    hub.start(timeout=60)
    eventually(lambda: pixels_like(shot(desktop, "3-hub-back"), GREEN) > 200, 240, "green again once the hub is back")
    assert tray.proc.poll() is None and tray.proc.pid == pid  # reconnected, not restarted
    assert tray.saw("connected to", mark)


def test_a_reminder_raises_a_desktop_notification(world):
    desktop, hub, _, _, tmp = world
    from qira.sync import SyncStore

    store = SyncStore(hub.data_dir / "sync.db")
    code = store.create_pairing_code("tablet", "tablet", 600)
    store.close()
    tablet = DeviceProcess(hub.ws_url, name="tablet", kind="tablet", state=tmp / "tablet", code=code)
    try:
        tablet.wait(lambda e: e.get("type") == "session.ready", timeout=60)
        # the first turn loads the embedding model in the hub: give it time
        done = tablet.ask("remind me in 20 seconds to stretch", timeout=180)
        assert done["text"].startswith("OK, I'll remind you to stretch")
    finally:
        tablet.close()  # the person left the tablet...
    desktop.open_menu()  # ...and is at the PC: opening the tray's menu tells the hub (presence active)
    desktop.keys("Escape")
    note = eventually(
        lambda: [n for n in desktop.notifications() if n["body"] == "stretch"],
        90,
        "the reminder as a desktop notification",
    )
    assert note[0]["summary"] == "Reminder" and note[0]["app"] == "Qira"


def test_an_approval_approved_from_the_tray_menu_runs_the_skill_and_clears_on_the_phone(world):
    desktop, _, tray, phone, _ = world
    assert "remember" in phone.ask("remember that my wifi password is on the fridge", timeout=180)["text"]
    mark = phone.mark()
    phone.say("forget my wifi password")
    request = phone.wait(lambda e: e.get("type") == "approval.request", after=mark, timeout=60)
    counts = eventually(
        lambda: (c := shot(desktop, "4-approval-badge")) and pixels_like(c, BADGE) > 30 and c, 60, "a badge on the icon"
    )
    assert pixels_like(counts, GREEN) > 100
    asked = eventually(
        lambda: [n for n in desktop.notifications() if n["summary"].startswith("Approve?")],
        60,
        "the approval as a desktop notification",
    )
    assert "wifi password" in asked[0]["body"]
    desktop.open_menu()
    desktop.screenshot(ARTIFACTS / "5-menu.png", (0, 0, 500, 400))
    desktop.menu_keys("a", "1")  # Approvals waiting → the first one
    desktop.screenshot(ARTIFACTS / "5b-approval-submenu.png", (0, 0, 800, 400))
    desktop.keys("a")  # → Approve
    done = phone.wait(
        lambda e: e.get("type") == "chat.done" and e.get("turn") == request["turn"], after=mark, timeout=120
    )
    assert done["text"].startswith("Forgotten (1 memory)")
    resolved = phone.wait(lambda e: e.get("type") == "approval.resolved", after=mark, timeout=30)
    assert resolved["status"] == "approved" and resolved["by"] not in (None, phone.device_id)
    eventually(lambda: pixels_like(shot(desktop, "6-approved"), BADGE) < 10, 30, "the badge goes away")


def test_open_the_companion_opens_the_hubs_address_in_the_browser(world):
    desktop, hub, _, _, tmp = world
    desktop.open_menu()
    desktop.keys("o")
    log = tmp / "browser.log"
    eventually(lambda: log.exists() and log.read_text().strip(), 30, "the browser is asked to open the companion")
    assert log.read_text().split() == [hub.http_url + "/"]


def test_pause_and_resume_the_cloud_from_the_menu_changes_the_policy_the_hub_reports(world):
    desktop, hub, _, phone, _ = world

    def policy() -> str:
        mark = phone.mark()
        phone.say("/send hub.status {}")
        reply = phone.wait(lambda e: e.get("type") == "reply" and "policy" in (e.get("result") or {}), after=mark)
        return reply["result"]["policy"]

    assert policy() == "prefer-local"
    desktop.open_menu()
    desktop.keys("c")  # Pause the cloud (local only)
    eventually(lambda: policy() == "local-only", 30, "the hub reports local-only")
    eventually(lambda: pixels_like(shot(desktop, "7-cloud-paused"), BLUE) > 200, 30, "the icon turns blue")
    desktop.open_menu()
    desktop.keys("c")  # Resume the cloud
    eventually(lambda: policy() == "prefer-local", 30, "the hub reports the policy from before the pause")
    audit = subprocess.run(
        [sys.executable, "-m", "qira.cli", "audit", "--data-dir", str(hub.data_dir), "--json", "--skill", "settings"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert audit.returncode == 0, audit.stderr
    assert audit.stdout.count('"device_name": "tray"') >= 2


def test_approve_from_the_desktop_notification(world):
    desktop, _, _, phone, _ = world
    assert "remember" in phone.ask("remember that my bike lock code is 4512", timeout=120)["text"]
    desktop.notifications()  # clear what is on screen
    mark = phone.mark()
    phone.say("forget my bike lock code")
    request = phone.wait(lambda e: e.get("type") == "approval.request", after=mark, timeout=60)
    eventually(lambda: desktop.displayed() >= 1, 60, "the approval notification on screen")
    desktop.run(["dunstctl", "action", "0"])  # its actions menu; the picker chooses Approve
    done = phone.wait(
        lambda e: e.get("type") == "chat.done" and e.get("turn") == request["turn"], after=mark, timeout=120
    )
    assert done["text"].startswith("Forgotten (1 memory)")
    resolved = phone.wait(
        lambda e: e.get("type") == "approval.resolved" and e.get("approval") == request["approval"],
        after=mark,
        timeout=30,
    )
    assert resolved["status"] == "approved" and resolved["by"] != phone.device_id


def test_pair_a_new_device_shows_a_code_and_its_qr_code_that_pair_a_real_device(world):
    desktop, hub, _, _, tmp = world
    desktop.open_menu()
    desktop.keys("p")  # Pair a new device…
    window = eventually(
        lambda: desktop.run(["xdotool", "search", "--name", "Qira: pair"]).stdout.split(), 30, "the pairing window"
    )[0]
    desktop.run(["xdotool", "windowfocus", "--sync", window])
    desktop.run(["xdotool", "type", "--delay", "30", "kitchen-tablet"])
    desktop.keys("Return")
    title = eventually(
        lambda: "pairing code" in (t := desktop.run(["xdotool", "getwindowname", window]).stdout) and t,
        60,
        "a pairing code in the window",
    )
    code = title.split("pairing code ")[1].split()[0]
    desktop.screenshot(ARTIFACTS / "8-pairing.png", (0, 0, 800, 600))
    device = DeviceProcess(hub.ws_url, name="kitchen-tablet", kind="phone", state=tmp / "kitchen", code=code)
    try:
        ready = device.wait(lambda e: e.get("type") == "session.ready", timeout=60)
        assert ready["name"] == "kitchen-tablet"
    finally:
        device.close()
        desktop.run(["xdotool", "windowfocus", "--sync", window])
        desktop.keys("Escape")  # close the pairing window
