"""One open audio stream on the hub: bytes in, utterances out.

``feed()`` is called from the event loop with each binary chunk; a pump task turns
the bytes into 16 kHz windows, asks the VAD (off the loop) and drives the
sans-I/O :class:`Segmenter`. Partial utterances go to ``on_partial`` (best effort:
skipped while a transcription of this stream is running), final ones to a queue
that ``on_final`` drains in order, so a slow transcription never loses audio and
captions keep their order. ``end()`` flushes what was heard: the stream's device
dropping mid-utterance still gets its final caption.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor

import numpy as np

from ._audio import Resampler, decode_pcm
from ._conversation import StreamSpec
from ._segmenter import RATE, WINDOW, EventKind, Segmenter, SegmenterSettings, SpeechEvent
from ._vad import StreamVad

__all__ = ["AudioStream"]

log = logging.getLogger("qira.speech")

_END = None
UtteranceHandler = Callable[["AudioStream", SpeechEvent], Awaitable[None]]


class AudioStream:
    def __init__(
        self,
        spec: StreamSpec,
        device_id: str,
        *,
        segmenter: SegmenterSettings,
        vad_executor: Executor,
        on_partial: UtteranceHandler,
        on_final: UtteranceHandler,
        max_queued_s: float = 600.0,
    ) -> None:
        self.spec = spec
        self.device_id = device_id
        self.opened_at = time.time()
        self.segmenter = Segmenter(segmenter)
        self._vad = StreamVad()
        self._vad_executor = vad_executor
        self._on_partial = on_partial
        self._on_final = on_final
        self._chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._finals: asyncio.Queue[SpeechEvent | None] = asyncio.Queue()
        self._remainder = b""
        self._resampler = Resampler(spec.format.sample_rate, RATE)  # carries its state from chunk to chunk
        self._samples = np.zeros(0, dtype=np.float32)
        self._queued_bytes = 0
        self._max_bytes = int(max_queued_s * spec.format.sample_rate * spec.format.frame_bytes)
        self.ended = False
        self.finals = 0  # final utterances heard
        self.captions = 0  # final captions sent (set by the service)
        self.partial_busy = False
        self.final_busy = False
        self.dropped_bytes = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.done = asyncio.get_running_loop().create_future()  # set once every final is handled
        self._pump_task = asyncio.ensure_future(self._pump())
        self._final_task = asyncio.ensure_future(self._drain_finals())

    def feed(self, data: bytes) -> None:
        if self.ended:
            return
        if self._queued_bytes + len(data) > self._max_bytes:  # the pipeline is far behind: shed the newest
            self.dropped_bytes += len(data)
            return
        self._queued_bytes += len(data)
        self._chunks.put_nowait(data)

    def end(self) -> None:
        """No more audio: flush what was heard (idempotent)."""
        if not self.ended:
            self.ended = True
            self._chunks.put_nowait(_END)

    def cancel(self) -> None:
        self.ended = True
        for task in (self._pump_task, self._final_task, *self._tasks):
            task.cancel()
        if not self.done.done():
            self.done.cancel()

    @property
    def busy(self) -> bool:
        return self.final_busy or not self._finals.empty()

    async def _pump(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                data = await self._chunks.get()
                if data is _END:
                    break
                self._queued_bytes -= len(data)
                # Coalesce what is waiting: fewer round trips to the VAD thread when behind.
                parts = [data]
                while not self._chunks.empty() and len(parts) < 64:
                    nxt = self._chunks.get_nowait()
                    if nxt is _END:
                        self._chunks.put_nowait(_END)
                        break
                    self._queued_bytes -= len(nxt)
                    parts.append(nxt)
                windows = self._windows(b"".join(parts))
                if len(windows) == 0:
                    continue
                try:
                    probs = await loop.run_in_executor(self._vad_executor, self._vad.probabilities, windows)
                except Exception:
                    log.exception("voice activity detection failed on stream %s; audio dropped", self.spec.stream)
                    continue
                for window, prob in zip(windows, probs, strict=True):
                    for event in self.segmenter.push(window, prob):
                        self._event(event)
            for event in self.segmenter.flush():
                self._event(event)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("audio stream %s failed", self.spec.stream)
        finally:
            self._finals.put_nowait(_END)

    def _windows(self, data: bytes) -> np.ndarray:
        data = self._remainder + data
        fmt = self.spec.format
        whole = len(data) - len(data) % fmt.frame_bytes
        self._remainder = data[whole:]
        samples = decode_pcm(data[:whole], fmt)
        samples = self._resampler(samples)
        self._samples = np.concatenate([self._samples, samples]) if len(self._samples) else samples
        count = len(self._samples) // WINDOW
        windows = self._samples[: count * WINDOW].reshape(count, WINDOW)
        self._samples = self._samples[count * WINDOW :]
        return windows

    def _event(self, event: SpeechEvent) -> None:
        if event.kind is EventKind.FINAL:
            self.finals += 1
            self._finals.put_nowait(event)
        elif event.kind is EventKind.PARTIAL and not self.partial_busy and not self.busy:
            self.partial_busy = True
            task = asyncio.ensure_future(self._partial(event))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _partial(self, event: SpeechEvent) -> None:
        try:
            await self._on_partial(self, event)
        except Exception:
            log.exception("partial caption failed on stream %s", self.spec.stream)
        finally:
            self.partial_busy = False

    async def _drain_finals(self) -> None:
        try:
            while True:
                event = await self._finals.get()
                if event is _END:
                    break
                self.final_busy = True
                try:
                    await self._on_final(self, event)
                except Exception:  # one bad utterance must not stop the ones after it
                    log.exception("final caption failed on stream %s", self.spec.stream)
                finally:
                    self.final_busy = False
        finally:
            if not self.done.done():
                self.done.set_result(None)
