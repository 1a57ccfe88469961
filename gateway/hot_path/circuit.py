"""A circuit breaker per upstream: stop calling a provider that keeps failing.

After ``threshold`` consecutive failures the circuit opens and calls are
refused at once (nothing is sent, so the payment is safely FAILED) for
``cooldown`` seconds; then one trial call is let through (half-open): its
success closes the circuit, its failure opens it again. State is per
worker process, which is enough to shed load from a dead provider fast.
"""

import threading
import time

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitBreaker:
    """Consecutive-failure breaker; thread-safe."""

    def __init__(self, threshold=5, cooldown=10.0):
        self.threshold = threshold
        self.cooldown = cooldown
        self.failures = 0
        self.state = CLOSED
        self.opened_at = 0.0
        self._lock = threading.Lock()

    def allow(self):
        """True when a call may go out now."""
        with self._lock:
            if self.state == CLOSED:
                return True
            if self.state == OPEN and time.monotonic() - self.opened_at >= self.cooldown:
                self.state = HALF_OPEN  # let exactly one trial through
                return True
            return False

    def record(self, success):
        """Count the outcome of a call that went out."""
        with self._lock:
            if success:
                self.failures, self.state = 0, CLOSED
                return
            self.failures += 1
            if self.state == HALF_OPEN or self.failures >= self.threshold:
                self.state, self.opened_at = OPEN, time.monotonic()


class CircuitBoard:
    """One breaker per upstream key."""

    def __init__(self, threshold=5, cooldown=10.0):
        self._threshold, self._cooldown = threshold, cooldown
        self._breakers = {}
        self._lock = threading.Lock()

    def breaker(self, key):
        """The breaker of ``key`` (created closed)."""
        breaker = self._breakers.get(key)
        if breaker is None:
            with self._lock:
                breaker = self._breakers.setdefault(key, CircuitBreaker(self._threshold, self._cooldown))
        return breaker

    def states(self):
        """``{key: state}`` for metrics and the portal."""
        return {key: breaker.state for key, breaker in list(self._breakers.items())}
