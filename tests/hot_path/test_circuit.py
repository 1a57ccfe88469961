"""The circuit breaker's states, step by step."""

from gateway.hot_path.circuit import CLOSED, HALF_OPEN, OPEN, CircuitBreaker


def test_it_opens_after_consecutive_failures_and_lets_one_trial_through():
    breaker = CircuitBreaker(threshold=3, cooldown=0)
    for _ in range(2):
        breaker.record(False)
    assert breaker.state == CLOSED and breaker.allow()
    breaker.record(False)
    assert breaker.state == OPEN

    assert breaker.allow() and breaker.state == HALF_OPEN  # cooldown 0: the trial goes out
    assert not breaker.allow()  # only one trial at a time
    breaker.record(True)
    assert breaker.state == CLOSED and breaker.failures == 0


def test_a_failed_trial_opens_it_again():
    breaker = CircuitBreaker(threshold=1, cooldown=60)
    breaker.record(False)
    assert not breaker.allow()
    breaker.cooldown = 0
    assert breaker.allow()
    breaker.record(False)
    assert breaker.state == OPEN


def test_a_success_resets_the_count():
    breaker = CircuitBreaker(threshold=2, cooldown=60)
    breaker.record(False)
    breaker.record(True)
    breaker.record(False)
    assert breaker.state == CLOSED
