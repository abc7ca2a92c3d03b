"""PCM conversions between what devices send and what the models take (float32 mono 16 kHz)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ENCODINGS", "Resampler", "StreamFormat", "decode_pcm", "encode_wav", "resample"]

ENCODINGS = {"s16le": ("<i2", 32768.0), "f32le": ("<f4", 1.0)}


@dataclass(frozen=True, kw_only=True)
class StreamFormat:
    encoding: str = "s16le"
    sample_rate: int = 16_000
    channels: int = 1

    @property
    def frame_bytes(self) -> int:
        return np.dtype(ENCODINGS[self.encoding][0]).itemsize * self.channels

    def as_json(self) -> dict[str, object]:
        return {"encoding": self.encoding, "sample_rate": self.sample_rate, "channels": self.channels}


def decode_pcm(data: bytes, fmt: StreamFormat) -> np.ndarray:
    """Whole frames of ``data`` -> float32 mono at the stream's rate (the caller keeps the remainder)."""
    dtype, scale = ENCODINGS[fmt.encoding]
    samples = np.frombuffer(data, dtype=dtype).astype(np.float32) / scale
    if fmt.channels > 1:
        samples = samples.reshape(-1, fmt.channels).mean(axis=1)
    return samples


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """One whole clip at ``rate`` -> ``target`` (see :class:`Resampler`)."""
    return Resampler(rate, target)(samples, final=True)


class Resampler:
    """A stream's sample-rate converter: chunks of any size in, the same samples out as
    converting the whole stream at once.

    Going down, a windowed-sinc low-pass at 0.9 x the new Nyquist frequency runs first:
    without it a microphone's 8-24 kHz (fricatives, hiss) would fold into the speech
    band. Then linear interpolation, its position carried across chunks."""

    TAPS = 63

    def __init__(self, rate: int, target: int) -> None:
        self.rate, self.target = rate, target
        self._step = rate / target
        self._taps = _lowpass(0.45 * target / rate, self.TAPS) if target < rate else None
        self._history = np.zeros(self.TAPS - 1 if self._taps is not None else 0, dtype=np.float32)
        self._buf = np.zeros(0, dtype=np.float32)  # filtered input not yet fully used
        # the next output sample's position in ``_buf``; the filter delays its input by half
        # its length, so the first one is there
        self._pos = float(len(self._history) // 2)

    def __call__(self, samples: np.ndarray, *, final: bool = False) -> np.ndarray:
        samples = np.asarray(samples, dtype=np.float32)
        if self.rate == self.target:
            return samples
        if self._taps is not None:
            if final:  # push the last input out through the filter's delay
                samples = np.concatenate([samples, np.zeros(len(self._taps) // 2, dtype=np.float32)])
            joined = np.concatenate([self._history, samples])
            self._history = joined[len(joined) - len(self._history) :]
            filtered = np.convolve(joined, self._taps, mode="valid").astype(np.float32)
        else:
            filtered = samples
        buf = np.concatenate([self._buf, filtered]) if len(self._buf) else filtered
        last = len(buf) - 1
        if last < self._pos:
            self._buf = buf
            return np.zeros(0, dtype=np.float32)
        count = int((last - self._pos) // self._step) + 1
        positions = self._pos + np.arange(count, dtype=np.float64) * self._step
        out = np.interp(positions, np.arange(len(buf)), buf).astype(np.float32)
        nxt = self._pos + count * self._step
        keep = min(int(nxt), last)
        self._buf, self._pos = buf[keep:], nxt - keep
        return out


def _lowpass(cutoff: float, taps: int) -> np.ndarray:
    """A windowed-sinc low-pass FIR (``cutoff`` in cycles per sample), unit gain at 0 Hz."""
    n = np.arange(taps) - (taps - 1) / 2
    h = np.sinc(2 * cutoff * n) * np.blackman(taps)
    return (h / h.sum()).astype(np.float32)


def encode_wav(pcm: bytes, sample_rate: int = 16_000) -> bytes:
    """Mono s16le PCM -> a WAV file's bytes."""
    import io
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm)
    return buf.getvalue()
