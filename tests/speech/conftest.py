"""Fixtures for the speech tests: generated speech, a live hub with the speech pipeline,
and a real wearable process (``qira device run --kind wearable --mic ...``)."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests._hub import HubProcess

from ._audio import SCRIPT, concat, duration, mix_noise, noise, say, silence

QIRA = [sys.executable, "-m", "qira.cli"]


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory) -> Path:
    """One joined Whisper model for every hub of the session."""
    return tmp_path_factory.getbasetemp() / "speech-models"


@pytest.fixture(scope="session")
def speech_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("speech-audio")


@pytest.fixture(scope="session")
def script_audio(speech_dir) -> dict[int, Path]:
    """Each line of the script, spoken (16 kHz mono WAV)."""
    return {i: say(line.text, line.language, speech_dir / f"line{i}.wav") for i, line in enumerate(SCRIPT)}


def conversation(speech_dir: Path, audio: dict[int, Path], indexes: list[int], name: str) -> Path:
    """The lines, each with a low hiss under it, between gaps of quiet noise."""
    parts = [silence(0.6, speech_dir / "lead.wav")]
    for i in indexes:
        parts.append(mix_noise(audio[i], speech_dir / f"{name}-noisy{i}.wav"))
        parts.append(noise(1.3, speech_dir / f"{name}-gap{i}.wav", volume=0.01, kind="pinknoise"))
    return concat(parts, speech_dir / f"{name}.wav")


def start_speech_hub(data_dir: Path, model_cache: Path, **env: str) -> HubProcess:
    hub = HubProcess(
        data_dir,
        env={
            "QIRA_HUB_WARM_UP": "false",
            "QIRA_SPEECH_WARM_UP": "true",
            "QIRA_SPEECH_MODEL_CACHE_DIR": str(model_cache),
            **env,
        },
    )
    hub.start(timeout=60)
    # Whisper loads in the background: wait for it so no test pays for it inside a stream.
    deadline = time.monotonic() + 180
    while (hub.health().get("components", {}).get("speech", {}).get("state")) != "ready":
        if time.monotonic() > deadline:
            raise RuntimeError("speech did not warm up:\n" + "".join(hub.output))
        time.sleep(0.2)
    return hub


@pytest.fixture(scope="module")
def speech_hub(tmp_path_factory, model_cache):
    hub = start_speech_hub(tmp_path_factory.mktemp("speech-hub"), model_cache)
    yield hub
    hub.stop()


def pair(hub: HubProcess, name: str, kind: str = "wearable") -> str:
    out = subprocess.run(
        [*QIRA, "pair", "--name", name, "--kind", kind, "--json", "--data-dir", str(hub.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["code"]


class Wearable:
    """``qira device run --kind wearable --mic FILE --json`` as a real process."""

    def __init__(
        self,
        url: str,
        name: str,
        state: Path,
        *,
        mic: Path,
        translate: str | None = None,
        code: str | None = None,
        speech_out: Path | None = None,
        language: str | None = None,
        stdin: bool = False,
        context: tuple[str, ...] = (),
    ) -> None:
        # stdin: the WAV goes through standard input (--mic -)
        cmd = [
            *QIRA,
            "device",
            "run",
            "--kind",
            "wearable",
            "--hub",
            url,
            "--name",
            name,
            "--state",
            str(state),
            "--mic",
            "-" if stdin else str(mic),
            "--json",
        ]
        if translate:
            cmd += ["--translate", translate]
        if language:
            cmd += ["--language", language]
        if code:
            cmd += ["--pair", code]
        if speech_out:
            cmd += ["--speech-out", str(speech_out)]
        for item in context:
            cmd += ["--context", item]
        self._stdin = mic.open("rb") if stdin else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            cmd,
            stdin=self._stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )
        self.events: list[dict] = []
        self.lines: queue.Queue[dict] = queue.Queue()
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            event = json.loads(line)  # --json: every stdout line is one JSON object
            self.events.append(event)
            self.lines.put(event)

    def expect(self, predicate, timeout: float = 120.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            event = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            if predicate(event):
                return event

    def wait(self, timeout: float = 180.0) -> int:
        try:
            code = self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            if hasattr(self._stdin, "close"):
                self._stdin.close()
        self._reader.join(10)
        return code

    @property
    def stderr(self) -> str:
        assert self.proc.stderr is not None
        return self.proc.stderr.read()

    def finals(self) -> list[dict]:
        return [e for e in self.events if e.get("type") == "caption" and e.get("final")]


@pytest.fixture
def wearable_factory():
    started: list[Wearable] = []

    def make(*args, **kwargs) -> Wearable:
        device = Wearable(*args, **kwargs)
        started.append(device)
        return device

    yield make
    for device in started:
        if device.proc.poll() is None:
            device.proc.kill()


__all__ = ["conversation", "duration", "pair", "start_speech_hub"]
