import pytest

from qira.errors import CircuitOpen
from qira.inference import BreakerState, CircuitBreaker


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_opens_after_consecutive_failures_and_probes_once():
    clock, changes = Clock(), []
    breaker = CircuitBreaker(failures=3, reset_s=10, clock=clock, on_change=changes.append)
    for _ in range(2):
        breaker.acquire()
        breaker.record_failure()
    breaker.acquire()
    breaker.record_success()  # a success resets the count
    for _ in range(3):
        breaker.acquire()
        breaker.record_failure()
    assert breaker.state is BreakerState.OPEN and not breaker.available()
    with pytest.raises(CircuitOpen):
        breaker.acquire()
    clock.now += 10
    assert breaker.state is BreakerState.HALF_OPEN and breaker.available()
    breaker.acquire()  # the probe
    assert not breaker.available()
    with pytest.raises(CircuitOpen):
        breaker.acquire()  # only one probe at a time
    breaker.record_failure()  # a failed probe opens it again at once
    assert breaker.state is BreakerState.OPEN
    clock.now += 10
    breaker.acquire()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert changes == [BreakerState.OPEN, BreakerState.OPEN, BreakerState.CLOSED]


def test_cancelled_probe_frees_the_slot():
    clock = Clock()
    breaker = CircuitBreaker(failures=1, reset_s=1, clock=clock)
    breaker.acquire()
    breaker.record_failure()
    clock.now += 1
    breaker.acquire()
    breaker.release()
    assert breaker.available()
