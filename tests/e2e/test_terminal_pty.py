"""The terminal device as a person meets it: a real pseudo-terminal, a real hub, the screen read back.

Issue 12: /help, names and local times instead of ids and unix times, the question
and its device for answers to turns asked elsewhere, /thread to list and continue,
one reconnect line with a countdown, and one line naming a failure's cause with an
exit status that says which.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from tests._devices import DeviceProcess
from tests._pty import PtyProcess
from tests.e2e.test_sync_cli import qira

QIRA = [sys.executable, "-m", "qira.cli"]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}


def _code(hub, name: str, kind: str) -> str:
    paired = qira("pair", "--name", name, "--kind", kind, "--json", data_dir=hub.data_dir)
    assert paired.returncode == 0, paired.stderr
    body = json.loads(paired.stdout)
    assert body["hub"] == hub.ws_url and body["hub_running"] is True  # the real URL, from hub.json
    return body["code"]


def test_a_person_uses_the_terminal_device(hub, tmp_path):
    desk = PtyProcess(
        [
            *QIRA,
            "device",
            "run",
            "--kind",
            "pc",
            "--name",
            "desk",
            "--hub",
            hub.ws_url,
            "--pair",
            _code(hub, "desk", "pc"),
            "--state",
            str(tmp_path / "desk"),
        ],
        env=ENV,
    )
    phone = None
    try:
        desk.expect(r"connected to ws://\S+ as 'desk' \(pc\); type a message, /help for commands")
        desk.send("/help")
        desk.expect(r"/thread N\|ID\s+continue thread N")
        desk.expect(r"/approve ID, /deny ID")
        desk.send("/thread")
        desk.expect(r"no threads yet")

        # A question asked on the phone reaches the desk with the question and who asked.
        phone = DeviceProcess(
            hub.ws_url, name="phone", kind="phone", state=tmp_path / "phone", code=_code(hub, "phone", "phone")
        )
        phone.wait(lambda e: e["type"] == "session.ready", timeout=60)
        desk.expect(r"· phone \(phone\) is online since \d\d:\d\d")
        done = phone.ask("take a note: buy oat milk", timeout=120)
        assert done["question"] == "take a note: buy oat milk" and done["asked_by"]
        thread = done["thread"]
        # the desk was not a participant of the phone's thread: it does not get that answer...
        desk.send("/presence")
        desk.expect(r"  desk \(this device\): pc, online")
        desk.expect(r"  phone: phone, online")
        assert not re.search(r"dev_[0-9a-f]{6}", desk.screen.text()), desk.screen.text()  # names, not ids

        # ... until it continues the thread: then the phone's next turn shows up with its question.
        desk.send(f"/thread {thread}")
        desk.expect(rf"continuing thread {thread}: your next message goes there")
        desk.expect(r"  you: take a note: buy oat milk")
        desk.send("show my notes")
        desk.expect(r"qira> Your notes:\s+1\. buy oat milk", timeout=120)
        phone.say("what are my notes")  # the phone continues its own thread
        desk.expect(r"\[phone, \d\d:\d\d\] asked: what are my notes\nqira> Your notes:\s+1\. buy oat milk", timeout=120)
        desk.send("/thread")
        desk.expect(rf"\*\s*1\) \d\d:\d\d  .*\[{thread}\]")

        # The hub goes away: one line that counts down, not one line per try; then it comes back.
        hub.stop()
        desk.expect(r"disconnected from ws://\S+: .*; retrying (in \d+s|now)")
        desk.expect(r"retrying in [1-9]\d*s", timeout=30)  # a countdown, after a few quick tries
        assert desk.screen.text().count("disconnected from") == 1, desk.screen.text()  # rewritten in place
        assert desk.raw.count("disconnected from") >= 2
        hub.start()
        desk.expect(r"reconnected to ws://\S+", timeout=60)
        assert "disconnected from" not in desk.screen.text()  # the status line gave way to "reconnected"
        desk.send("/quit")
        assert desk.wait() == 0
    finally:
        desk.close()
        if phone is not None:
            phone.close()


def test_failures_name_their_cause_and_exit_with_a_meaningful_status(hub, tmp_path):
    def run(*args: str, stdin: str = "hello\n") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*QIRA, "device", "run", "--kind", "pc", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=90,
            env=ENV,
        )

    http = run("--name", "a", "--hub", hub.http_url, "--state", str(tmp_path / "a"))
    assert http.returncode == 2 and f"--hub {hub.ws_url}" in http.stderr
    no_path = run("--name", "a", "--hub", hub.ws_url.removesuffix("/ws"), "--state", str(tmp_path / "a"))
    assert no_path.returncode == 2 and "no path" in no_path.stderr
    wrong_path = run("--name", "a", "--hub", hub.ws_url + "x", "--state", str(tmp_path / "a"))
    assert wrong_path.returncode == 3 and "is the path /ws?" in wrong_path.stderr
    bad_code = run("--name", "a", "--hub", hub.ws_url, "--pair", "0000-0000", "--state", str(tmp_path / "b"))
    assert bad_code.returncode == 4 and "refused pairing code 0000-0000" in bad_code.stderr
    assert "qira pair --name a --kind pc" in bad_code.stderr
    unpaired = run("--name", "a", "--hub", hub.ws_url, "--state", str(tmp_path / "c"))
    assert unpaired.returncode == 4 and "not paired yet" in unpaired.stderr
    assert "CloseCode" not in unpaired.stderr + unpaired.stdout
    bad_name = run("--name", "kitchen/tablet", "--hub", hub.ws_url)
    assert bad_name.returncode == 2 and "device name 'kitchen/tablet'" in bad_name.stderr

    port = hub.port
    hub.stop()
    refused = run(
        "--name", "a", "--hub", f"ws://127.0.0.1:{port}/ws", "--pair", "0000-0000", "--state", str(tmp_path / "d")
    )
    assert refused.returncode == 3 and "connection refused" in refused.stderr
    assert refused.stdout.count("cannot reach") <= 1  # one line, not one per try
