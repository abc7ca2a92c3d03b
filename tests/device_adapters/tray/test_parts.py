"""The tray's parts without a display: start-at-login, the CLI's answers without a desktop,
the tray's engine against a live hub it starts and stops itself."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from device_adapters.tray import Action, Command, Icon, Link, TraySettings, icon_for
from device_adapters.tray._autostart import (
    ENTRY_NAME,
    autostart_enabled,
    desktop_entry,
    disable_autostart,
    enable_autostart,
)
from device_adapters.tray._controller import TrayController
from device_adapters.tray._display import display_problem
from device_adapters.tray._processes import create_pairing_code
from qira.errors import QiraError


def qira(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qira.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_start_at_login_is_off_until_turned_on_and_off_removes_the_entry(tmp_path):
    directory = tmp_path / "autostart"
    assert not autostart_enabled(directory)
    path = enable_autostart(directory, ["/opt/my venv/bin/python", "-m", "qira.cli", "tray", "--data-dir", "/d/100%"])
    assert path == directory / ENTRY_NAME and autostart_enabled(directory)
    text = path.read_text()
    assert 'Exec="/opt/my venv/bin/python" -m qira.cli tray --data-dir /d/100%%\n' in text
    assert "Type=Application" in text and "Name=Qira tray" in text
    # a desktop environment's own switch (Hidden=true) counts as off
    path.write_text(text + "Hidden=true\n")
    assert not autostart_enabled(directory)
    disable_autostart(directory)
    assert not path.exists() and not autostart_enabled(directory)
    disable_autostart(directory)  # already off: fine
    assert 'Exec="a\\"b\\$c"' in desktop_entry(['a"b$c'])


def test_the_cli_turns_start_at_login_on_and_off(tmp_path):
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config")}
    assert (
        qira("tray", "--data-dir", str(tmp_path / "d"), "--autostart", "status", env=env).stdout
        == "start at login: off\n"
    )
    on = qira("tray", "--data-dir", str(tmp_path / "d"), "--autostart", "on", env=env)
    assert on.returncode == 0 and on.stdout.startswith("start at login: on")
    entry = (tmp_path / "config" / "autostart" / ENTRY_NAME).read_text()
    assert f"--data-dir {tmp_path / 'd'}" in entry and " tray " in entry
    assert qira("tray", "--autostart", "off", env=env).stdout == "start at login: off\n"
    assert not (tmp_path / "config" / "autostart" / ENTRY_NAME).exists()


@pytest.mark.parametrize("display", ["", ":99999", "nonsense"])
def test_no_display_gives_one_clear_line_and_no_traceback(tmp_path, display):
    out = qira(
        "tray",
        "--data-dir",
        str(tmp_path),
        "--hub",
        "ws://127.0.0.1:9/ws",
        env={"DISPLAY": display, "WAYLAND_DISPLAY": ""},
    )
    assert out.returncode == 3
    assert out.stderr.startswith("no system tray found: open the companion at http://127.0.0.1:9/ (")
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert display_problem({"DISPLAY": display}) is not None


def test_settings_travel_to_the_lean_process_intact(tmp_path):
    settings = TraySettings(
        hub_url="ws://h:1/ws",
        companion_url="http://h:1/",
        name="t",
        state_dir=tmp_path,
        config_args=("--data-dir", "/x"),
        autostart_dir=tmp_path / "a",
        autostart_argv=("q",),
    )
    assert TraySettings.from_json(settings.to_json()) == settings


def test_a_pairing_code_from_qira_pair_and_a_readable_error(tmp_path):
    args = ("--data-dir", str(tmp_path))
    code = create_pairing_code("kitchen", "tablet", args)
    assert len(code.code.replace("-", "")) == 8 and (code.name, code.kind, code.ttl_s) == ("kitchen", "tablet", 600)
    qira("pair", "--name", "taken", "--kind", "phone", "--token", *args)
    with pytest.raises(QiraError, match="already paired"):
        create_pairing_code("taken", "phone", args)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _until(predicate, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout} s")
        await asyncio.sleep(0.1)


def test_the_tray_starts_the_hub_when_none_runs_pairs_itself_and_stops_it(tmp_path):
    """No hub: the icon says unreachable and the menu offers to start one; the tray starts
    `qira serve` as its child, pairs through `qira pair`, connects; then stops it again."""
    port = _free_port()
    data = tmp_path / "data"
    args = ("--data-dir", str(data))
    settings = TraySettings(
        hub_url=f"ws://127.0.0.1:{port}/ws",
        companion_url=f"http://127.0.0.1:{port}/",
        name="tray",
        state_dir=tmp_path / "tray",
        config_args=args,
        serve_args=(*args, "--host", "127.0.0.1", "--port", str(port)),
        notifications=False,
    )
    seen: list = []

    async def scenario() -> None:
        controller = TrayController(settings, publish=seen.append)
        runner = asyncio.ensure_future(controller.run())
        try:
            await _until(lambda: controller.state.link is Link.UNREACHABLE, 60)
            assert icon_for(controller.state).icon is Icon.UNREACHABLE
            await controller.execute(Command(action=Action.START_HUB))
            assert controller.state.hub_started_here and (tmp_path / "tray" / "hub.pid").exists()
            await _until(lambda: controller.state.link is Link.ONLINE and controller.state.status is not None, 120)
            assert controller.state.status.policy == "prefer-local"
            await controller.execute(Command(action=Action.PAUSE_CLOUD))
            assert controller.state.status.policy == "local-only"
            assert icon_for(controller.state).icon is Icon.CLOUD_PAUSED
            await controller.execute(Command(action=Action.RESUME_CLOUD))
            assert controller.state.status.policy == "prefer-local"
            await controller.execute(Command(action=Action.STOP_HUB))
            assert not controller.state.hub_started_here and not (tmp_path / "tray" / "hub.pid").exists()
            await _until(lambda: controller.state.link is Link.UNREACHABLE, 60)
        finally:
            controller.stopped.set()
            await asyncio.wait_for(runner, 30)
            controller.hub.stop()

    asyncio.run(scenario())
    assert any(s.link is Link.ONLINE for s in seen)
    assert "hub listening" in (tmp_path / "tray" / "hub.log").read_text()


def test_a_hub_started_elsewhere_is_never_stopped_by_the_tray(tmp_path):
    from device_adapters.tray._processes import HubChild

    child = HubChild(tmp_path, ())
    (tmp_path / "hub.pid").write_text(str(os.getpid()))  # this test process: alive, but not `qira serve`
    assert child.pid() is None and child.stop() is False
    Path(tmp_path / "hub.pid").write_text("not a pid")
    assert child.pid() is None


def test_notification_actions_do_only_what_the_notification_offered(tmp_path):
    from device_adapters.tray import notice_for

    opened: list[str] = []
    settings = TraySettings(
        hub_url="ws://127.0.0.1:9/ws",
        companion_url="http://127.0.0.1:9/",
        name="tray",
        state_dir=tmp_path,
        notifications=False,
    )

    async def scenario() -> TrayController:
        controller = TrayController(settings, publish=lambda s: None, open_url=opened.append)
        handoff = notice_for(
            {
                "type": "notify",
                "hub_seq": 3,
                "title": "Continue",
                "text": "x",
                "kind": "handoff",
                "data": {"thread": "th9"},
            }
        )
        approval = notice_for({"type": "approval.request", "approval": "ap1", "skill": "forget", "summary": "s"})
        assert handoff is not None and approval is not None
        controller._notice_action(handoff, "open-companion")
        controller._notice_action(approval, "default")  # a click on the bubble: the companion, no thread
        controller._notice_action(approval, "quit")  # forged by another program on the bus
        controller._notice_action(handoff, "stop-hub")
        await asyncio.sleep(0.5)
        return controller

    controller = asyncio.run(scenario())
    assert opened == ["http://127.0.0.1:9/#thread=th9", "http://127.0.0.1:9/"]
    assert not controller.stopped.is_set()
