"""A lock that lets interactive work go first: while queries are coming, bulk work gets a fixed share.

The embedder is shared by ingest (many chunks, a small slice per turn) and queries (one text). A
query takes the lock as soon as it is free. Bulk work — a slice of an ingest's embedding under the
lock, or a file's parsing beside it (``bulk_turn``: it starts only when no query is waiting or
running, but a query need not wait for it) — runs
freely while no query is waiting or running and none came within ``grace`` seconds. While queries
keep coming it runs on credit: credit accrues at ``share`` seconds per second (up to ``burst``) and
bulk time spent while queries come is debited. So a stream of queries keeps about ``1 - share`` of
the machine, and an ingest is never starved: it keeps ``share`` of it. Queries take the lock in the
order they asked for it: with 50 clients on /v1/retrieve, waking all waiters to race for it gave a
p99 of five times the median (a waiter could lose the race again and again).

Example::

    lock = PriorityLock()
    with lock.hold(urgent=True):   # a query
        ...
    with lock.hold():              # one slice of an ingest's embedding
        ...
    with lock.bulk_turn():         # parsing the next file of an ingest
        ...
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class PriorityLock:
    """``clock`` is where the lock reads time (a test passes one it moves by hand); ``condition`` is
    what waiters wait on (a test may pass one that interrupts a wait, as a cancelled request's is)."""

    def __init__(self, grace: float = 0.05, share: float = 0.2, burst: float = 0.25, *,
                 clock: Callable[[], float] = time.monotonic, condition: threading.Condition | None = None) -> None:
        if not 0 < share <= 1:
            raise ValueError("share must be in (0, 1]")
        self.grace = grace
        self.share = share
        self.burst = burst
        self._clock = clock
        self._cond = condition or threading.Condition()
        self._busy = False
        self._urgent = 0  # urgent holders waiting or holding
        self._line: deque[object] = deque()  # urgent holders waiting, first come first served
        self._bulk_waiting = 0  # bulk holders refused their turn, waiting
        self._last_urgent = float("-inf")  # when the last urgent holder let go
        self._credit = burst  # seconds of bulk work allowed while queries come
        self._credited_at = clock()

    def waiting(self) -> tuple[int, int]:
        """How many queries and how many bulk holders are waiting for the lock now."""
        with self._cond:
            return len(self._line), self._bulk_waiting

    def wake(self) -> None:
        """Make waiters look at the clock again (a clock that jumps: tests move theirs by hand)."""
        with self._cond:
            self._cond.notify_all()

    @contextmanager
    def hold(self, urgent: bool = False) -> Iterator[None]:
        with self._cond:
            if urgent:
                me = object()
                self._urgent += 1
                self._line.append(me)
                try:
                    self._cond.wait_for(lambda: not self._busy and self._line[0] is me)
                except BaseException:
                    self._urgent -= 1
                    self._line.remove(me)
                    self._cond.notify_all()  # the next in line may be free to go now
                    raise
                self._line.popleft()
            else:
                self._wait_for_turn(exclusive=True)
            self._busy = True
            started, contended = self._clock(), self._queries_active(self._clock())
        try:
            yield
        finally:
            with self._cond:
                self._busy = False
                if urgent:
                    self._urgent -= 1
                    self._last_urgent = self._clock()
                else:
                    self._debit(started, contended)
                self._cond.notify_all()

    @contextmanager
    def bulk_turn(self) -> Iterator[None]:
        """Bulk work that needs no lock (it only takes CPU): waits for its turn as a bulk holder does."""
        with self._cond:
            self._wait_for_turn(exclusive=False)
            started, contended = self._clock(), self._queries_active(self._clock())
        try:
            yield
        finally:
            with self._cond:
                self._debit(started, contended)
                self._cond.notify_all()

    # The rest is called holding the condition.

    def _queries_active(self, now: float) -> bool:
        return self._urgent > 0 or now - self._last_urgent < self.grace

    def _accrue(self, now: float) -> None:
        self._credit = min(self.burst, self._credit + (now - self._credited_at) * self.share)
        self._credited_at = now

    def _debit(self, started: float, contended: bool) -> None:
        now = self._clock()
        self._accrue(now)
        if contended or self._queries_active(now):
            self._credit -= now - started

    def _wait_for_turn(self, exclusive: bool) -> None:
        while True:
            now = self._clock()
            self._accrue(now)
            # A query waiting for the lock or running always goes first: bulk work beside it would take
            # a core from it (on 2 cores a query's parallel matmuls then wait at every barrier).
            free = not self._urgent and not (exclusive and self._busy)
            active = self._queries_active(now)
            if free and (not active or self._credit > 0):
                return
            waits = []
            if self._credit <= 0:
                waits.append(-self._credit / self.share + 0.001)
            if self._urgent:
                waits.clear()  # the query's release notifies
            else:
                waits.append(self._last_urgent + self.grace - now)
            self._bulk_waiting += 1
            try:
                self._cond.wait(timeout=max(0.001, min(waits)) if waits else None)
            finally:
                self._bulk_waiting -= 1
