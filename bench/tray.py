"""Tray benchmark: idle memory of ``qira tray`` and the time from a hub ``notify`` to the desktop notification.

    python bench/tray.py --out bench/results/tray.json [--pings 20]

On a private desktop (Xvfb, tint2, dunst, a session D-Bus: the same one the tests use),
with a real ``qira serve`` and a real ``qira tray``, side by side in one run:

* idle RSS of ``qira tray`` (connected, nothing happening; target <= 80 MB), and of the
  two toolkits it was chosen between, each showing one icon with a one-item menu and
  nothing else: Qt's ``QSystemTrayIcon`` (PySide6-Essentials) and, when installed,
  ``pystray`` (its xorg backend here: it has no menus without GTK or AppIndicator);
* notify -> notification: a skill on the hub calls ``ctx.notify`` to the tray with the
  time in the text; ``dbus-monitor`` stamps the ``Notify`` call reaching the bus (dunst
  draws it on receipt). p50 target <= 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _report import emit  # noqa: E402  (bench/ is on sys.path when run as a script)

from device_adapters import DeviceSession  # noqa: E402
from qira.sync import SyncStore  # noqa: E402
from tests._hub import HubProcess  # noqa: E402
from tests.device_adapters.tray._desktop import Desktop, missing_tools  # noqa: E402

BENCH_SKILL = textwrap.dedent("""
    import time

    from qira.sdk import Permission, SkillContext, skill


    @skill(description="Benchmark: notify the tray with the time", examples=["tray bench ping"],
           patterns=["tray bench ping"], permissions=[Permission.NOTIFY])
    async def tray_bench_ping(ctx: SkillContext) -> str:
        tray = next(d for d in ctx.devices() if d.name == "tray")
        await ctx.notify(f"{time.time():.6f}", title="tray bench", device=tray.id)
        return "pinged"


    SKILLS = [tray_bench_ping]
""")

QT_MINIMAL = """
from PySide6.QtGui import QAction, QColor, QIcon, QPixmap
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon
app = QApplication(["qt-minimal"])
pixmap = QPixmap(64, 64)
pixmap.fill(QColor(46, 160, 67))
icon = QSystemTrayIcon(QIcon(pixmap))
menu = QMenu()
menu.addAction(QAction("&Quit", menu))
icon.setContextMenu(menu)
icon.show()
app.exec()
"""

PYSTRAY_MINIMAL = """
import pystray
from PIL import Image
icon = pystray.Icon("minimal", Image.new("RGB", (64, 64), (46, 160, 67)), "minimal",
                    menu=pystray.Menu(pystray.MenuItem("Quit", lambda i: i.stop())))
print("backend", type(icon).__module__, "menus", icon.HAS_MENU, flush=True)
icon.run()
"""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no VmRSS for {pid}")


def idle_rss(desktop: Desktop, code: str, settle_s: float) -> dict[str, Any]:
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        env={**os.environ, **desktop.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        time.sleep(settle_s)
        if proc.poll() is not None:
            return {"error": (proc.stdout.read() if proc.stdout else "")[-300:]}
        return {"rss_mb": rss_mb(proc.pid)}
    finally:
        proc.terminate()
        proc.wait(10)


class NotifyMonitor:
    """dbus-monitor on the desktop's bus: (time the Notify call was seen, its body) for each."""

    def __init__(self, desktop: Desktop) -> None:
        self.seen: list[tuple[float, str, str]] = []
        self.proc = subprocess.Popen(
            [
                "dbus-monitor",
                "--session",
                "type='method_call',interface='org.freedesktop.Notifications',member='Notify'",
            ],
            env={**os.environ, **desktop.env},
            stdout=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        stamp: float | None = None
        strings: list[str] = []
        for line in self.proc.stdout:
            head = re.match(r"method call time=([\d.]+) .*member=Notify", line)
            if head:
                stamp, strings = float(head.group(1)), []
                continue
            text = re.match(r'\s+string "(.*)"$', line)
            if stamp is not None and text:
                strings.append(text.group(1))
                if len(strings) == 4:  # app name, icon, summary, body
                    self.seen.append((stamp, strings[2], strings[3]))
                    stamp = None

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


async def ping_latencies(hub: HubProcess, state: Path, monitor: NotifyMonitor, pings: int) -> list[float]:
    store = SyncStore(hub.data_dir / "sync.db")
    code = store.create_pairing_code("driver", "phone", 600)
    store.close()
    session = DeviceSession(hub.ws_url, name="driver", kind="phone", state_dir=state, pair_code=code, docs=())
    session.start()
    latencies: list[float] = []
    try:
        await session.wait_ready(60)
        for i in range(pings + 1):  # the first one warms the hub's intent matching up: not counted
            before = len(monitor.seen)
            await session.request("chat.send", {"text": "tray bench ping"}, timeout=300)
            deadline = time.monotonic() + 120
            while not any(s == "tray bench" for _, s, _ in monitor.seen[before:]):
                if time.monotonic() > deadline:
                    raise RuntimeError("no desktop notification for a ping")
                await asyncio.sleep(0.01)
            stamp, _, body = next(x for x in monitor.seen[before:] if x[1] == "tray bench")
            if i:
                latencies.append(stamp - float(body))
            await asyncio.sleep(0.2)
    finally:
        await session.close()
    return latencies


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out")
    parser.add_argument("--pings", type=int, default=20)
    parser.add_argument("--settle", type=float, default=8.0, help="seconds of idling before RSS is read")
    args = parser.parse_args()
    if missing_tools():
        raise SystemExit(f"desktop tools missing (make install installs them): {missing_tools()}")
    result: dict[str, Any] = {"bench": "tray", "targets": {"idle_rss_mb": 80, "notify_p50_ms": 200}}
    with tempfile.TemporaryDirectory(prefix="qira-tray-bench-") as tmp_name:
        tmp = Path(tmp_name)
        desktop = Desktop(tmp / "desktop").start()
        site = tmp / "site"
        site.mkdir()
        (site / "qira_tray_bench.py").write_text(BENCH_SKILL)
        info = site / "qira_tray_bench-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: qira-tray-bench\nVersion: 0.1\n")
        (info / "entry_points.txt").write_text("[qira.skills]\nbench = qira_tray_bench:SKILLS\n")
        hub = HubProcess(
            tmp / "hub", env={"QIRA_HUB_WARM_UP": "false", "QIRA_HUB_LOG_LEVEL": "warning", "PYTHONPATH": str(site)}
        )
        tray: subprocess.Popen[str] | None = None
        monitor = NotifyMonitor(desktop)
        try:
            hub.start(timeout=120)
            tray = subprocess.Popen(
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
                    str(tmp / "tray"),
                    "--wait-for-tray",
                    "60",
                ],
                env={**os.environ, **desktop.env},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            lines: list[str] = []
            threading.Thread(target=lambda: lines.extend(tray.stdout or []), daemon=True).start()
            deadline = time.monotonic() + 120
            while not any("connected to" in line for line in lines):
                if time.monotonic() > deadline or tray.poll() is not None:
                    raise RuntimeError("qira tray did not connect:\n" + "".join(lines))
                time.sleep(0.1)
            time.sleep(args.settle)
            result["qira_tray_idle_rss_mb"] = rss_mb(tray.pid)
            latencies = asyncio.run(ping_latencies(hub, tmp / "driver", monitor, args.pings))
            time.sleep(args.settle)
            result["qira_tray_rss_after_pings_mb"] = rss_mb(tray.pid)
            result["notify_to_notification_ms"] = {
                "n": len(latencies),
                "p50": round(pct(latencies, 0.5) * 1000, 1),
                "p90": round(pct(latencies, 0.9) * 1000, 1),
                "max": round(max(latencies) * 1000, 1),
            }
            result["toolkits_idle_rss_mb"] = {"qt_qsystemtrayicon_minimal": idle_rss(desktop, QT_MINIMAL, args.settle)}
            try:
                import pystray  # noqa: F401

                result["toolkits_idle_rss_mb"]["pystray_minimal"] = idle_rss(desktop, PYSTRAY_MINIMAL, args.settle)
            except ImportError:
                result["toolkits_idle_rss_mb"]["pystray_minimal"] = {"error": "pystray not installed"}
            result["qira_tray_over_qt_minimal"] = round(
                result["qira_tray_idle_rss_mb"]
                / result["toolkits_idle_rss_mb"]["qt_qsystemtrayicon_minimal"].get("rss_mb", float("nan")),
                2,
            )
        finally:
            monitor.close()
            if tray is not None and tray.poll() is None:
                tray.terminate()
                tray.wait(20)
            hub.stop()
            desktop.stop()
    emit(result, args.out)


if __name__ == "__main__":
    main()
