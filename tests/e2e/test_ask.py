"""``qira ask`` goes through the agent: to the running hub of the data directory (as a
device over the protocol), or, with no hub, through an agent in its own process."""

from __future__ import annotations

import os
import subprocess
import sys

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", "QIRA_HUB_WARM_UP": "false"}


def ask(data_dir, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qira.cli", "ask", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=ENV,
    )


def test_ask_uses_the_running_hub_and_its_skills(hub):
    assert (hub.data_dir / "hub.json").exists()  # the hub says where it listens
    first = ask(hub.data_dir, "what time is it", "--explain")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("It's "), first.stdout  # the clock skill, as a device gets it
    assert "asked the hub" in first.stderr and "route=local" in first.stderr
    again = ask(hub.data_dir, "take a note: the cli reaches the hub")  # paired once, the token is reused
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("Noted: the cli reaches the hub"), again.stdout


def test_in_process_options_beside_a_running_hub_are_refused_or_named(hub):
    # --local would start a second agent on the hub's data directory: refused, naming the hub
    local = ask(hub.data_dir, "what time is it", "--local", timeout=120)
    assert local.returncode == 1 and local.stdout == "", local.stdout
    assert f"pid {hub.proc.pid}" in local.stderr and "leave out --local" in local.stderr, local.stderr
    assert (hub.data_dir / "hub.lock").read_text().strip() == str(hub.proc.pid)  # the hub's lock is untouched
    # options only an in-process agent honours are named, not dropped silently
    noted = ask(hub.data_dir, "what time is it", "--policy", "local-only", "--max-tokens", "20")
    assert noted.returncode == 0 and noted.stdout.startswith("It's "), noted.stderr
    assert "note: --policy, --max-tokens not applied" in noted.stderr, noted.stderr


def test_ask_without_a_hub_runs_the_agent_here(tmp_path):
    done = ask(tmp_path / "data", "what day is it today", "--explain")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Today is "), done.stdout
    assert "no hub is running" in done.stderr  # the progress line while models load
    assert "intent: act date_today" in done.stderr and "route: local" in done.stderr
