"""A lock that lets interactive work go first: bulk work waits while queries are coming.

The embedder is shared by ingest (hundreds of chunks per call) and queries (one text). Ingest takes
the lock one small batch at a time, and only when no query is waiting and none came in the last
``grace`` seconds — a stream of queries is served as if no ingest ran. So that ingest is never
starved, a bulk holder that has waited ``max_wait`` seconds goes at the next free moment.

Example::

    lock = PriorityLock()
    with lock.hold(urgent=True):   # a query
        ...
    with lock.hold():              # one batch of an ingest
        ...
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class PriorityLock:
    def __init__(self, grace: float = 0.05, max_wait: float = 2.0) -> None:
        self.grace = grace
        self.max_wait = max_wait
        self._cond = threading.Condition()
        self._busy = False
        self._urgent_waiting = 0
        self._last_urgent = float("-inf")  # when the last urgent holder let go

    @contextmanager
    def hold(self, urgent: bool = False) -> Iterator[None]:
        with self._cond:
            if urgent:
                self._urgent_waiting += 1
                try:
                    self._cond.wait_for(lambda: not self._busy)
                finally:
                    self._urgent_waiting -= 1
            else:
                self._wait_for_a_lull()
            self._busy = True
        try:
            yield
        finally:
            with self._cond:
                self._busy = False
                if urgent:
                    self._last_urgent = time.monotonic()
                self._cond.notify_all()

    def _wait_for_a_lull(self) -> None:
        """Called holding the condition: until the lock is free, no query waits and none came within
        ``grace`` — or, once ``max_wait`` has passed, until it is merely free."""
        deadline = time.monotonic() + self.max_wait
        while True:
            now = time.monotonic()
            if not self._busy and (now >= deadline or
                                   (not self._urgent_waiting and now - self._last_urgent >= self.grace)):
                return
            quiet_at = self._last_urgent + self.grace
            self._cond.wait(timeout=max(0.001, min(deadline, quiet_at if quiet_at > now else deadline) - now))
