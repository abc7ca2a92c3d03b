"""Cutting a stream of audio into utterances: sans-I/O, no clock, no model.

The caller runs voice activity detection on fixed windows (512 samples at 16 kHz)
and pushes each window with its speech probability; the segmenter answers with
events. Time is counted in samples, so the same audio always cuts the same way.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

__all__ = ["SegmenterSettings", "Segmenter", "SpeechEvent", "EventKind", "WINDOW", "RATE"]

RATE = 16_000
WINDOW = 512  # Silero VAD's window at 16 kHz (32 ms)


@dataclass(frozen=True, kw_only=True)
class SegmenterSettings:
    threshold: float = 0.5  # a window at or above this is speech
    min_speech_s: float = 0.25  # shorter bursts (a cough, a click) are not utterances
    min_silence_s: float = 0.45  # this much silence ends an utterance (a sentence pause is ~0.35 s)
    pad_s: float = 0.15  # kept before the first speech window and after the last one
    max_utterance_s: float = 20.0  # a longer monologue is cut here (Whisper sees 30 s at most)
    partial_every_s: float = 1.0  # a partial transcript is due after each this much speech
    first_partial_s: float = 0.5  # and the first one once this much has been heard


class EventKind(enum.Enum):
    STARTED = "started"  # speech began (offsets only)
    PARTIAL = "partial"  # the utterance so far is ready for a partial transcript
    FINAL = "final"  # the utterance ended: transcribe it for good


@dataclass(frozen=True, kw_only=True)
class SpeechEvent:
    kind: EventKind
    utterance: int  # 1, 2, ... within the stream
    start: int  # sample offset in the stream where the audio begins (padding included)
    end: int  # sample offset just past the audio
    speech_end: int  # sample offset just past the last speech window
    audio: np.ndarray | None = None  # float32 mono 16 kHz in [-1, 1]; None for STARTED


class Segmenter:
    """Windows in, :class:`SpeechEvent` out. ``flush()`` at the end of the stream."""

    def __init__(self, settings: SegmenterSettings | None = None) -> None:
        s = self.settings = settings or SegmenterSettings()
        win_s = WINDOW / RATE
        self._pad = max(1, round(s.pad_s / win_s))
        self._min_speech = max(1, round(s.min_speech_s / win_s))
        self._min_silence = max(1, round(s.min_silence_s / win_s))
        self._max_windows = max(1, round(s.max_utterance_s / win_s))
        self._first_partial = max(1, round(s.first_partial_s / win_s))
        self._partial_every = max(1, round(s.partial_every_s / win_s))
        # Hysteresis (as Silero's own iterator does): once speaking, a window must fall
        # clearly below the threshold to count as silence.
        self._off = max(0.01, s.threshold - 0.15)
        self._preroll: list[np.ndarray] = []
        self._windows: list[np.ndarray] = []  # the current utterance, padding included
        self._speaking = False
        self._speech_windows = 0  # windows at or above the threshold in this utterance
        self._silence_run = 0
        self._next_partial = 0
        self._started_at = 0  # sample offset of self._windows[0]
        self._last_speech = 0  # sample offset just past the last speech window
        self._position = 0  # samples pushed so far
        self._count = 0  # utterances emitted (finals)
        self._announced = False

    @property
    def speaking(self) -> bool:
        return self._speaking

    @property
    def position(self) -> int:
        return self._position

    def push(self, window: np.ndarray, probability: float) -> list[SpeechEvent]:
        """One window of ``WINDOW`` float32 samples and its speech probability."""
        if len(window) != WINDOW:
            raise ValueError(f"a window is {WINDOW} samples, got {len(window)}")
        self._position += WINDOW
        events: list[SpeechEvent] = []
        if not self._speaking:
            if probability >= self.settings.threshold:
                self._speaking = True
                self._windows = [*self._preroll, window]
                self._started_at = self._position - WINDOW * len(self._windows)
                self._preroll = []
                self._speech_windows = 1
                self._silence_run = 0
                self._last_speech = self._position
                self._next_partial = self._first_partial
                self._announced = False
            else:
                self._preroll.append(window)
                if len(self._preroll) > self._pad:
                    self._preroll.pop(0)
            return events
        self._windows.append(window)
        if probability >= self._off:
            if probability >= self.settings.threshold or self._silence_run == 0:
                self._speech_windows += 1
            self._silence_run = 0
            self._last_speech = self._position
        else:
            self._silence_run += 1
        if not self._announced and self._speech_windows >= self._min_speech:
            self._announced = True
            events.append(self._event(EventKind.STARTED, with_audio=False))
        if self._silence_run >= self._min_silence:
            events.extend(self._finish())
        elif len(self._windows) >= self._max_windows:
            events.extend(self._finish(cut=True))
        elif self._announced and self._speech_windows >= self._next_partial and self._silence_run == 0:
            self._next_partial = self._speech_windows + self._partial_every
            events.append(self._event(EventKind.PARTIAL))
        return events

    def flush(self) -> list[SpeechEvent]:
        """The stream ended: whatever speech is pending becomes a final utterance."""
        if not self._speaking:
            return []
        return self._finish()

    def _finish(self, *, cut: bool = False) -> list[SpeechEvent]:
        events: list[SpeechEvent] = []
        if self._speech_windows >= self._min_speech:
            if not self._announced:
                events.append(self._event(EventKind.STARTED, with_audio=False))
            # Keep only pad_s of the trailing silence: more makes Whisper slower and
            # gives it room to invent words.
            keep = len(self._windows) - max(0, self._silence_run - self._pad)
            self._windows = self._windows[:keep]
            self._count += 1
            events.append(self._event(EventKind.FINAL))
        tail = self._windows[-self._pad :] if cut else []
        self._speaking = cut  # a cut monologue goes on as the next utterance
        self._windows = list(tail) if cut else []
        self._preroll = []
        self._started_at = self._position - WINDOW * len(self._windows)
        self._speech_windows = 1 if cut else 0
        self._silence_run = 0
        self._next_partial = self._first_partial
        self._announced = False
        return events

    def _event(self, kind: EventKind, *, with_audio: bool = True) -> SpeechEvent:
        number = self._count if kind is EventKind.FINAL else self._count + 1
        end = self._started_at + WINDOW * len(self._windows)
        audio = np.concatenate(self._windows) if with_audio and self._windows else None
        return SpeechEvent(
            kind=kind, utterance=number, start=self._started_at, end=end, speech_end=self._last_speech, audio=audio
        )
