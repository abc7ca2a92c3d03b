"""Speech out: Debian's ``espeak-ng`` speaks a caption, resampled to the stream format
devices play (16 kHz mono s16le)."""

from __future__ import annotations

import asyncio
import io
import shutil
import wave

import numpy as np

from ..errors import SpeechModelError
from ._audio import resample
from ._languages import ESPEAK_VOICES

__all__ = ["Speaker"]

_TIMEOUT_S = 20.0


class Speaker:
    def __init__(self, *, rate_wpm: int = 165, sample_rate: int = 16_000) -> None:
        self.rate_wpm = rate_wpm
        self.sample_rate = sample_rate

    @staticmethod
    def available() -> bool:
        return shutil.which("espeak-ng") is not None

    def voice(self, language: str) -> str | None:
        return ESPEAK_VOICES.get(language)

    async def speak(self, text: str, language: str) -> bytes:
        """``text`` spoken in ``language``: mono s16le PCM at ``sample_rate``."""
        voice = self.voice(language)
        if voice is None:
            raise SpeechModelError(f"espeak-ng has no voice for {language!r}")
        try:
            proc = await asyncio.create_subprocess_exec(
                "espeak-ng",
                "-v",
                voice,
                "-s",
                str(self.rate_wpm),
                "--stdout",
                "--",
                text,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise SpeechModelError(f"cannot run espeak-ng: {exc}") from exc
        try:
            out, err = await asyncio.wait_for(proc.communicate(), _TIMEOUT_S)
        except TimeoutError as exc:
            proc.kill()
            await proc.wait()
            raise SpeechModelError("espeak-ng did not finish in time") from exc
        if proc.returncode != 0:
            raise SpeechModelError(f"espeak-ng failed: {err.decode(errors='replace').strip()[:200]}")
        return await asyncio.to_thread(self._convert, out)

    def _convert(self, wav_bytes: bytes) -> bytes:
        try:
            with wave.open(io.BytesIO(wav_bytes)) as wav:
                rate, channels, width = wav.getframerate(), wav.getnchannels(), wav.getsampwidth()
                frames = wav.readframes(wav.getnframes())
        except (wave.Error, EOFError) as exc:
            raise SpeechModelError(f"espeak-ng wrote unreadable audio: {exc}") from exc
        if width != 2:
            raise SpeechModelError(f"espeak-ng wrote {8 * width}-bit audio; 16-bit expected")
        samples = np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0
        if channels > 1:
            samples = samples.reshape(-1, channels).mean(axis=1)
        samples = resample(samples, rate, self.sample_rate)
        return (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
