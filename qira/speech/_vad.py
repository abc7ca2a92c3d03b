"""Voice activity detection with Silero VAD (the ``silero-vad`` wheel ships the model).

One :class:`StreamVad` per audio stream: the model is recurrent, so each stream
keeps its own state. Calls block (torch): run them off the event loop.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from ..errors import SpeechModelError
from ._segmenter import RATE

__all__ = ["StreamVad", "load_vad"]

_lock = threading.Lock()


def load_vad() -> Any:
    """A fresh Silero VAD model (TorchScript, CPU); ~2 MB, loads in tens of milliseconds."""
    with _lock:  # torch.jit.load is not safe to call from two threads at once
        try:
            from silero_vad import load_silero_vad

            return load_silero_vad(onnx=False)
        except Exception as exc:
            raise SpeechModelError(f"cannot load Silero VAD: {exc}") from exc


class StreamVad:
    def __init__(self) -> None:
        self._model: Any = None

    def probabilities(self, windows: np.ndarray) -> list[float]:
        """``windows``: shape (n, WINDOW) float32 at 16 kHz, in stream order -> speech probability each."""
        import torch

        if self._model is None:
            self._model = load_vad()
        out: list[float] = []
        try:
            with torch.inference_mode():
                for window in windows:
                    out.append(float(self._model(torch.from_numpy(np.ascontiguousarray(window)), RATE).item()))
        except Exception as exc:
            raise SpeechModelError(f"Silero VAD failed: {exc}") from exc
        return out
