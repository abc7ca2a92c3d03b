"""A thread pool whose workers never hold up the process's exit.

``asyncio.to_thread`` runs on the loop's default executor, whose threads the
interpreter joins at exit: a hub stopped while the embedding model is still being
imported would wait seconds for that import. The hub installs this executor
instead. By the time the process exits, the hub's own shutdown has awaited every
write it cares about; what can still be running is warm-up work (loading models),
which is safe to abandon.
"""

from __future__ import annotations

import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import thread as _cf_thread

__all__ = ["DaemonExecutor"]


class DaemonExecutor(ThreadPoolExecutor):
    """``ThreadPoolExecutor`` (asyncio insists on one) with daemon workers that the
    interpreter does not join, and a ``shutdown`` that never waits for running work."""

    def _adjust_thread_count(self) -> None:
        # As the standard pool does, minus registering the thread for the join at exit.
        if self._idle_semaphore.acquire(timeout=0):
            return

        def wake(_: object, q: object = self._work_queue) -> None:
            q.put(None)  # type: ignore[attr-defined]  # the pool's SimpleQueue, typed as object here

        if len(self._threads) < self._max_workers:
            worker = threading.Thread(
                name=f"{self._thread_name_prefix or 'qira-worker'}_{len(self._threads)}",
                target=_cf_thread._worker,
                args=(weakref.ref(self, wake), self._work_queue, self._initializer, self._initargs),
                daemon=True,
            )
            worker.start()
            self._threads.add(worker)  # type: ignore[attr-defined]  # a set at run time

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        super().shutdown(wait=False, cancel_futures=cancel_futures)
