"""The companion's microphone resampler (voice.js, run by Node) against the hub's
(qira/speech/_audio.py): the same samples, and no aliasing from a 48 kHz microphone."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from qira.speech._audio import Resampler

VOICE_JS = Path(__file__).resolve().parents[2] / "device_adapters/companion/web/src/voice.js"

SCRIPT = """
import { Resampler } from %s
let data = ''
process.stdin.on('data', d => { data += d })
process.stdin.on('end', () => {
  const { rate, chunks } = JSON.parse(data)
  const r = new Resampler(rate)
  const out = []
  for (const c of chunks) for (const s of r.push(Float32Array.from(c))) out.push(s)
  process.stdout.write(JSON.stringify(out))
})
"""


def browser_resample(rate: int, chunks: list[np.ndarray]) -> np.ndarray:
    script = SCRIPT % json.dumps(VOICE_JS.as_uri())
    done = subprocess.run(
        ["node", "--input-type=module", "-e", script],
        input=json.dumps({"rate": rate, "chunks": [c.tolist() for c in chunks]}),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return np.array(json.loads(done.stdout), dtype=np.float32)


def tone(freq: float, rate: int, seconds: float = 0.5) -> np.ndarray:
    return np.sin(2 * np.pi * freq * np.arange(int(rate * seconds)) / rate).astype(np.float32)


@pytest.mark.parametrize("rate", [48000, 44100, 22050, 8000])
def test_the_browser_converts_like_the_hub(rate):
    x = tone(440, rate) * 0.5 + tone(5000, rate) * 0.2 if rate > 10000 else tone(440, rate) * 0.5
    # the AudioWorklet hands over blocks of 2048 (or the fallback, 4096): uneven chunks here
    chunks = np.split(x, [2048, 2100, 6144, 6145, 10000])
    browser = browser_resample(rate, chunks)
    hub = Resampler(rate, 16000)
    ours = np.concatenate([hub(c) for c in chunks])
    assert len(browser) == len(ours) and abs(len(browser) - len(x) * 16000 / rate) < 40
    np.testing.assert_allclose(browser, ours, atol=1e-4)


def test_a_48_khz_microphones_hiss_does_not_fold_into_speech():
    hiss = browser_resample(48000, [tone(12000, 48000)])
    assert float(np.sqrt(np.mean(hiss[200:-200] ** 2))) < 0.01  # plain interpolation: ~0.7 at 4 kHz
