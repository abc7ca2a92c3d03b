"""PCM from devices into the models' 16 kHz mono: whole frames, any chunking, no aliasing."""

from __future__ import annotations

import numpy as np
import pytest

from qira.speech._audio import Resampler, StreamFormat, decode_pcm, resample


def tone(freq: float, rate: int, seconds: float = 1.0) -> np.ndarray:
    return np.sin(2 * np.pi * freq * np.arange(int(rate * seconds)) / rate).astype(np.float32)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x[200:-200] ** 2)))  # away from the clip's edges


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_any_chunking_gives_the_same_samples_as_the_whole_clip(rate):
    x = tone(440, rate) * 0.5
    whole = resample(x, rate, 16000)
    assert abs(len(whole) - 16000) <= 1
    rng = np.random.default_rng(rate)
    r, parts, i = Resampler(rate, 16000), [], 0
    while i < len(x):  # chunks of 1 sample to 60 ms, as a browser or a socket hands them over
        n = int(rng.integers(1, rate // 16))
        parts.append(r(x[i : i + n]))
        i += n
    parts.append(r(np.zeros(0, np.float32), final=True))
    streamed = np.concatenate(parts)
    assert len(streamed) == len(whole)
    np.testing.assert_allclose(streamed, whole, atol=1e-5)
    # and it is the tone, in phase, at the new rate (no drift, no shift from the filter's delay)
    np.testing.assert_allclose(whole[200:-200], tone(440, 16000)[: len(whole)][200:-200] * 0.5, atol=0.01)


@pytest.mark.parametrize("rate", [44100, 48000])
def test_sound_above_the_new_nyquist_does_not_fold_into_speech(rate):
    # a 12 kHz hiss from a 48 kHz microphone would land at 4 kHz under plain interpolation
    naive = np.interp(np.arange(16000) * rate / 16000, np.arange(rate), tone(12000, rate))
    assert rms(naive) > 0.3
    assert rms(resample(tone(12000, rate), rate, 16000)) < 0.01
    assert rms(resample(tone(3000, rate), rate, 16000)) > 0.69  # speech band kept (a sine's rms is 0.707)


def test_stereo_float_frames_become_mono():
    left, right = np.full(4, 0.5, np.float32), np.full(4, -0.25, np.float32)
    frames = np.stack([left, right], axis=1).astype("<f4").tobytes()
    mono = decode_pcm(frames, StreamFormat(encoding="f32le", sample_rate=48000, channels=2))
    np.testing.assert_allclose(mono, np.full(4, 0.125))
    s16 = np.array([16384, -32768], dtype="<i2").tobytes()
    np.testing.assert_allclose(decode_pcm(s16, StreamFormat()), [0.5, -1.0])
