"""The portal's sign-in throttle is the switch's limits store (kind "portal"), on its own."""

from gateway.hot_path.rate_limits import AbuseLimits


def limits():
    return AbuseLimits("memory://", "100/second", "10/minute", failure_limits={"portal": "5/15minutes"})


def test_five_wrong_passwords_lock_that_name_from_that_address_for_the_window():
    throttle = limits()
    for attempt in range(4):
        throttle.record_failure("portal", "alice", "10.0.0.1", f"guess-{attempt}")
    assert throttle.locked_for("portal", "alice", "10.0.0.1", "the-right-one") == 0
    throttle.record_failure("portal", "alice", "10.0.0.1", "guess-4")
    assert 1 < throttle.locked_for("portal", "alice", "10.0.0.1", "the-right-one") <= 901
    assert throttle.locked_for("portal", "alice", "10.0.0.2", "the-right-one") == 0
    assert throttle.locked_for("portal", "bob", "10.0.0.1", "the-right-one") == 0


def test_one_wrong_password_repeated_locks_only_itself():
    throttle = limits()
    for _ in range(20):
        throttle.record_failure("portal", "dave", "10.0.0.1", "last-months-password")
    assert throttle.locked_for("portal", "dave", "10.0.0.1", "last-months-password") > 0
    assert throttle.locked_for("portal", "dave", "10.0.0.1", "this-months-password") == 0


def test_a_successful_sign_in_forgets_the_failures():
    throttle = limits()
    for attempt in range(4):
        throttle.record_failure("portal", "carol", "::1", f"guess-{attempt}")
    throttle.forget_failures("portal", "carol", "::1")
    throttle.record_failure("portal", "carol", "::1", "guess-5")
    assert throttle.locked_for("portal", "carol", "::1", "right") == 0
