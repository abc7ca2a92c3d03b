"""PCM conversions between what devices send and what the models take (float32 mono 16 kHz)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ENCODINGS", "StreamFormat", "decode_pcm", "encode_wav", "resample"]

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
    """Linear interpolation: enough for speech going to a VAD and Whisper's 80 mel bands."""
    if rate == target or len(samples) == 0:
        return samples.astype(np.float32, copy=False)
    count = int(round(len(samples) * target / rate))
    positions = np.arange(count, dtype=np.float64) * (rate / target)
    return np.interp(positions, np.arange(len(samples)), samples).astype(np.float32)


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
