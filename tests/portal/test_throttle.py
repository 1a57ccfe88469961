"""The sign-in throttle on its own, with a fake clock."""

from gateway.portal.security import LoginThrottle


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_five_failures_lock_that_name_from_that_address_for_the_window():
    clock = Clock()
    throttle = LoginThrottle(limit=5, window=900, clock=clock)
    for _ in range(4):
        throttle.failed("Alice", "10.0.0.1")
    assert throttle.locked_for("alice", "10.0.0.1") == 0
    throttle.failed("alice", "10.0.0.1")
    assert throttle.locked_for("ALICE", "10.0.0.1") == 900
    assert throttle.locked_for("alice", "10.0.0.2") == 0 and throttle.locked_for("bob", "10.0.0.1") == 0
    clock.now += 600
    assert throttle.locked_for("alice", "10.0.0.1") == 300
    clock.now += 301
    assert throttle.locked_for("alice", "10.0.0.1") == 0


def test_a_successful_sign_in_forgets_the_failures():
    throttle = LoginThrottle(limit=2, window=60, clock=Clock())
    throttle.failed("carol", "::1")
    throttle.succeeded("carol", "::1")
    throttle.failed("carol", "::1")
    assert throttle.locked_for("carol", "::1") == 0
