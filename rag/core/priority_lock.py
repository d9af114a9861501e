"""A lock that lets interactive work go first: bulk work waits while queries are coming.

The embedder is shared by ingest (hundreds of chunks per call) and queries (one text). Ingest takes
the lock one small batch at a time, and only when no query is waiting and none came in the last
``grace`` seconds — a stream of queries is served as if no ingest ran. So that ingest is never
starved, a bulk holder that has waited ``max_wait`` seconds goes at the next free moment.
Bulk work that does not need the model (an ingest's parsing) calls ``wait_for_lull`` between items,
so that it does not take the CPU from queries either.

Example::

    lock = PriorityLock()
    with lock.hold(urgent=True):   # a query
        ...
    with lock.hold():              # one batch of an ingest
        ...
    lock.wait_for_lull()           # before parsing the next file of an ingest
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
        self._urgent = 0  # urgent holders waiting or holding
        self._last_urgent = float("-inf")  # when the last urgent holder let go

    @contextmanager
    def hold(self, urgent: bool = False) -> Iterator[None]:
        with self._cond:
            if urgent:
                self._urgent += 1
                try:
                    self._cond.wait_for(lambda: not self._busy)
                except BaseException:
                    self._urgent -= 1
                    raise
            else:
                self._wait(for_the_lock=True)
            self._busy = True
        try:
            yield
        finally:
            with self._cond:
                self._busy = False
                if urgent:
                    self._urgent -= 1
                    self._last_urgent = time.monotonic()
                self._cond.notify_all()

    def wait_for_lull(self) -> None:
        """Return once no query is waiting or running and none came within ``grace`` — or after
        ``max_wait``. Takes nothing: for bulk work between items that do not need the lock."""
        with self._cond:
            self._wait(for_the_lock=False)

    def _wait(self, for_the_lock: bool) -> None:
        """Called holding the condition: until no query waits or runs and none came within ``grace``
        (and the lock is free, ``for_the_lock``) — or, once ``max_wait`` has passed, until it is
        merely free."""
        deadline = time.monotonic() + self.max_wait
        while True:
            now = time.monotonic()
            free = not (for_the_lock and self._busy)
            if free and (now >= deadline or (not self._urgent and now - self._last_urgent >= self.grace)):
                return
            quiet_at = self._last_urgent + self.grace
            self._cond.wait(timeout=max(0.001, min(deadline, quiet_at if quiet_at > now else deadline) - now))
