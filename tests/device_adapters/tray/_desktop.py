"""A real, private desktop for the tray's tests: Xvfb, a session D-Bus, a tray host (tint2)
and a notification daemon (dunst), all started here and stopped with the fixture."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

TOOLS = ("Xvfb", "dbus-daemon", "tint2", "dunst", "dunstctl", "xdotool")

# A panel along the top holding only the system tray: the first icon's centre is at (24, 24).
TINT2RC = """\
panel_items = S
panel_size = 100% 48
panel_position = top left horizontal
panel_background_id = 1
background_color = #202020 100
border_width = 0
systray_padding = 4 4 4
systray_background_id = 1
systray_icon_size = 40
"""
ICON_XY = (24, 24)
TRAY_BOX = (0, 0, 200, 48)

# dunst shows a notification's actions through a "dmenu" program: this one picks Approve.
DUNSTRC = """\
[global]
    timeout = 0
    history_length = 100
    sticky_history = yes
    dmenu = {picker}
"""
PICKER = """#!/bin/sh
tee -a {log} | grep -m1 '^#Approve'
"""

GRAB = """
import sys
from PySide6.QtGui import QGuiApplication
app = QGuiApplication(["grab"])
x, y, w, h = (int(v) for v in sys.argv[2:6])
image = QGuiApplication.primaryScreen().grabWindow(0, x, y, w, h).toImage()
image.save(sys.argv[1])
counts = {}
for j in range(image.height()):
    for i in range(image.width()):
        c = image.pixelColor(i, j)
        key = "%d,%d,%d" % (c.red(), c.green(), c.blue())
        counts[key] = counts.get(key, 0) + 1
print(__import__("json").dumps(counts))
"""


def missing_tools() -> list[str]:
    return [t for t in TOOLS if shutil.which(t) is None]


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not within {timeout} s")
        time.sleep(0.1)


class Desktop:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.procs: list[subprocess.Popen[bytes]] = []
        self.env: dict[str, str] = {}

    def start(self) -> Desktop:
        self.root.mkdir(parents=True, exist_ok=True)
        read, write = os.pipe()
        xvfb = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write), "-screen", "0", "800x600x24", "-nolisten", "tcp"],
            pass_fds=(write,),
            stdout=subprocess.DEVNULL,
            stderr=open(self.root / "xvfb.log", "wb"),
        )
        os.close(write)
        self.procs.append(xvfb)
        with os.fdopen(read) as pipe:
            number = pipe.readline().strip()
        if not number:
            raise RuntimeError("Xvfb did not start: " + (self.root / "xvfb.log").read_text())
        bus = subprocess.Popen(
            ["dbus-daemon", "--session", "--nofork", "--nosyslog", "--print-address=1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.procs.append(bus)
        assert bus.stdout is not None
        address = bus.stdout.readline().decode().strip()
        home = self.root / "home"
        (home / ".config").mkdir(parents=True, exist_ok=True)
        runtime = self.root / "run"
        runtime.mkdir(mode=0o700, exist_ok=True)
        self.env = {
            "DISPLAY": f":{number}",
            "DBUS_SESSION_BUS_ADDRESS": address,
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_RUNTIME_DIR": str(runtime),
            "HOME": str(home),
        }
        (self.root / "tint2rc").write_text(TINT2RC)
        picker = self.root / "pick-approve.sh"
        picker.write_text(PICKER.format(log=self.root / "picker.log"))
        picker.chmod(0o755)
        (self.root / "dunstrc").write_text(DUNSTRC.format(picker=picker))
        self._spawn(["dunst", "-config", str(self.root / "dunstrc")], "dunst.log")
        _wait(lambda: self.run(["dunstctl", "is-paused"]).returncode == 0, 20, "dunst on the session bus")
        self._spawn(["tint2", "-c", str(self.root / "tint2rc")], "tint2.log")
        # tint2 owns the tray selection once its panel window exists
        _wait(lambda: self.run(["xdotool", "search", "--class", "tint2"]).stdout.strip() != "", 20, "the tint2 panel")
        return self

    def _spawn(self, argv: list[str], log: str) -> None:
        self.procs.append(
            subprocess.Popen(
                argv, env={**os.environ, **self.env}, stdout=subprocess.DEVNULL, stderr=open(self.root / log, "wb")
            )
        )

    def run(self, argv: list[str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(argv, env={**os.environ, **self.env}, capture_output=True, text=True, timeout=timeout)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

    # -- looking and touching ----------------------------------------------------------

    def screenshot(self, path: Path, box: tuple[int, int, int, int] = TRAY_BOX) -> dict[tuple[int, int, int], int]:
        """Save the tray area as PNG; return how many pixels of each colour it has."""
        path.parent.mkdir(parents=True, exist_ok=True)
        out = self.run([sys.executable, "-c", GRAB, str(path), *map(str, box)], timeout=60)
        if out.returncode != 0:
            raise RuntimeError(out.stderr)
        counts = json.loads(out.stdout.strip().splitlines()[-1])
        return {tuple(int(v) for v in k.split(",")): n for k, n in counts.items()}  # type: ignore[misc]

    def click_icon(self, button: int = 3) -> None:
        x, y = ICON_XY
        self.run(["xdotool", "mousemove", str(x), str(y), "click", str(button)])

    def menus(self) -> list[str]:
        """The tray's popup menus on screen (its icon is a 40x40 window of the same class)."""
        ids = self.run(["xdotool", "search", "--onlyvisible", "--class", "qira-tray"]).stdout.split()
        return [
            i
            for i in ids
            if "40x40" not in self.run(["xdotool", "getwindowgeometry", i]).stdout
            and not self.run(["xdotool", "getwindowname", i]).stdout.startswith("Qira: pair")
        ]

    def open_menu(self, timeout: float = 30) -> None:
        """Right-click the icon and wait for the menu (a slow machine can take a while to draw it)."""
        deadline = time.monotonic() + timeout
        while True:
            self.click_icon()
            try:
                _wait(lambda: bool(self.menus()), 5, "the tray menu")
                return
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise

    def menu_keys(self, *keys: str) -> None:
        """Type keys into the open menu, each one opening a submenu: wait for it to show."""
        for key in keys:
            before = len(self.menus())
            self.run(["xdotool", "key", key])
            _wait(lambda n=before: len(self.menus()) > n, 10, f"a submenu after {key!r}")
            time.sleep(0.2)

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.run(["xdotool", "key", "--delay", "50", key])
            time.sleep(0.3)  # a submenu opens on a timer

    def displayed(self) -> int:
        out = self.run(["dunstctl", "count", "displayed"])
        return int(out.stdout.strip() or 0) if out.returncode == 0 else 0

    def notifications(self) -> list[dict[str, str]]:
        """Every notification dunst has shown (closed ones are in its history)."""
        self.run(["dunstctl", "close-all"])
        time.sleep(0.2)
        out = self.run(["dunstctl", "history"])
        if out.returncode != 0:
            return []
        data = json.loads(out.stdout)["data"][0]
        return [{"app": n["appname"]["data"], "summary": n["summary"]["data"], "body": n["body"]["data"]} for n in data]


def near(color: tuple[int, int, int], target: tuple[int, int, int], tolerance: int = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(color, target, strict=True))


def pixels_like(counts: dict[tuple[int, int, int], int], target: tuple[int, int, int]) -> int:
    return sum(n for c, n in counts.items() if near(c, target))
