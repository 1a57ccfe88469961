"""Ends a client function's backend when the function outlives its time limit, from outside the function.

A function can catch ``query_canceled`` (``EXCEPTION WHEN query_canceled THEN
NULL``) or switch its statement timeout off, so the limit is also kept by
the switch: every call is watched, and a call still running at its limit
plus a grace has its backend terminated (``pg_terminate_backend``) over the
switch's own pool. One thread watches every call of the process, keeping a
heap of deadlines: a call costs a heap push, not a thread.
"""

import heapq
import itertools
import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

log = logging.getLogger(__name__)
GRACE_SECONDS = 0.5


@dataclass
class Watch:
    """One watched call; ``fired`` is set when its backend was terminated."""

    pid: int
    deadline: float
    done: bool = False
    fired: bool = False


class Watchdog:
    """Watches calls; ``terminate(pid)`` ends a backend (run from a connection allowed to signal it)."""

    def __init__(self, terminate, grace_seconds=GRACE_SECONDS):
        self._terminate = terminate
        self._grace = grace_seconds
        self._heap = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread = None

    @contextmanager
    def guard(self, pid, seconds):
        """Watch the call running on backend ``pid`` for ``seconds`` (plus the grace) while the block runs."""
        watch = Watch(pid, time.monotonic() + seconds + self._grace)
        with self._wake:
            heapq.heappush(self._heap, (watch.deadline, next(self._order), watch))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="mospay-function-watchdog", daemon=True)
                self._thread.start()
            elif self._heap[0][2] is watch:
                self._wake.notify()  # the new deadline is the nearest: re-arm
        try:
            yield watch
        finally:
            with self._wake:  # under the lock: a call is either done or fired, never both unnoticed
                watch.done = True  # left in the heap; dropped when it comes up

    def _run(self):
        while True:
            with self._wake:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._wake.wait(60)
                    continue
                delay = self._heap[0][0] - time.monotonic()
                if delay > 0:
                    self._wake.wait(delay)
                    continue
                watch = heapq.heappop(self._heap)[2]
                watch.fired = not watch.done
            if watch.fired:
                log.warning("function call on backend %s outlived its limit: terminating it", watch.pid)
                try:
                    self._terminate(watch.pid)
                except Exception:  # noqa: BLE001 - the watchdog must outlive a failed terminate
                    log.exception("could not terminate backend %s", watch.pid)
