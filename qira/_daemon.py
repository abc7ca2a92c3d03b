"""A thread pool whose workers never hold up the process's exit.

``asyncio.to_thread`` runs on the loop's default executor, whose threads the
interpreter joins at exit: a hub stopped while the embedding model is still being
imported would wait seconds for that import. The hub installs this executor
instead. By the time the process exits, the hub's own shutdown has awaited every
write it cares about; what can still be running is warm-up work (loading models),
which is safe to abandon.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

__all__ = ["DaemonExecutor"]


class DaemonExecutor(Executor):
    def __init__(self, max_workers: int = 16) -> None:
        self._max = max_workers
        self._jobs: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]] | None]
        self._jobs = queue.SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._idle = 0
        self._lock = threading.Lock()
        self._shutdown = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new work after shutdown")
            self._jobs.put((future, fn, args, kwargs))
            if self._idle == 0 and len(self._workers) < self._max:
                worker = threading.Thread(target=self._work, name=f"qira-worker-{len(self._workers)}", daemon=True)
                self._workers.append(worker)
                worker.start()
            else:
                self._idle -= 1  # one idle worker will take this job
        return future

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            future, fn, args, kwargs = job
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args, **kwargs))
                except BaseException as exc:  # noqa: B036 -- handed to the awaiting caller, as the stdlib pool does
                    future.set_exception(exc)
            with self._lock:
                self._idle += 1

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        # Never waits: see the module docstring. Idle workers are told to stop.
        with self._lock:
            self._shutdown = True
            for _ in self._workers:
                self._jobs.put(None)
