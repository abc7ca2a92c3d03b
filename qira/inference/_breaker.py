"""A circuit breaker for the gigafactory endpoint. Sans-I/O: the clock is passed in."""

from __future__ import annotations

import enum
import time
from collections.abc import Callable

from ..errors import CircuitOpen

__all__ = ["BreakerState", "CircuitBreaker"]


class BreakerState(enum.StrEnum):
    CLOSED = "closed"  # requests flow
    OPEN = "open"  # the endpoint failed repeatedly: requests go local until the reset time
    HALF_OPEN = "half-open"  # one probe request may try the endpoint


class CircuitBreaker:
    """Opens after ``failures`` consecutive failed attempts; after ``reset_s`` lets one
    probe through; the probe's outcome closes it or opens it again.

    ``on_change`` is called with the new state (the hub mirrors it in ``/health``)."""

    def __init__(
        self,
        *,
        failures: int,
        reset_s: float,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[BreakerState], None] | None = None,
    ) -> None:
        self.threshold = failures
        self.reset_s = reset_s
        self.clock = clock
        self.on_change = on_change
        self.consecutive_failures = 0
        self.opened_at: float | None = None
        self._probe_in_flight = False

    @property
    def state(self) -> BreakerState:
        if self.opened_at is None:
            return BreakerState.CLOSED
        if self.clock() - self.opened_at >= self.reset_s:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def available(self) -> bool:
        """Would a request be let through now? (What the router asks; takes no slot.)"""
        state = self.state
        return state is BreakerState.CLOSED or (state is BreakerState.HALF_OPEN and not self._probe_in_flight)

    def retry_in(self) -> float:
        if self.opened_at is None:
            return 0.0
        return max(0.0, self.opened_at + self.reset_s - self.clock())

    def acquire(self) -> None:
        """Take permission for one attempt. Raises :class:`CircuitOpen`."""
        state = self.state
        if state is BreakerState.CLOSED:
            return
        if state is BreakerState.HALF_OPEN and not self._probe_in_flight:
            self._probe_in_flight = True
            return
        raise CircuitOpen(
            f"the endpoint's circuit is open after {self.consecutive_failures} failures; retry in {self.retry_in():.0f}s"
        )

    def record_success(self) -> None:
        self._probe_in_flight = False
        self.consecutive_failures = 0
        if self.opened_at is not None:
            self.opened_at = None
            self._changed()

    def record_failure(self) -> None:
        was_probe = self._probe_in_flight
        self._probe_in_flight = False
        self.consecutive_failures += 1
        if was_probe or self.consecutive_failures >= self.threshold:
            self.opened_at = self.clock()
            self._changed()

    def release(self) -> None:
        """An attempt ended with neither outcome (the caller cancelled): free the probe slot."""
        self._probe_in_flight = False

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self.state)
