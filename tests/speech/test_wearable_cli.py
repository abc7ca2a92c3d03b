"""The wearable's command line when the microphone it is asked for is not there."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def _has_microphone() -> bool:
    try:
        import sounddevice

        sounddevice.query_devices(kind="input")
    except Exception:  # no package, no PortAudio, or no input device: the case under test
        return False
    return True


@pytest.mark.skipif(_has_microphone(), reason="this machine has a microphone")
def test_mic_without_a_sound_card_is_a_one_line_error_before_connecting(tmp_path):
    # nothing listens on port 9: exit code 2 (a usage error) says it stopped before any connection attempt
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "qira.cli",
            "device",
            "run",
            "--kind",
            "wearable",
            "--translate",
            "en:pt",
            "--mic",
            "mic",
            "--hub",
            "ws://127.0.0.1:9/ws",
            "--name",
            "watch",
            "--state",
            str(tmp_path / "state"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --mic mic"), out.stderr
    assert "sound card" in lines[0] or "no microphone" in lines[0]
    assert "Traceback" not in out.stderr
