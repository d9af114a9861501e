"""A bounded queue in front of the one model: admit or refuse at once (429), then wait for a slot.

Example::

    permit = gate.admit()   # raises Overloaded when running + waiting is at capacity
    await permit.start()    # waits for a running slot
    ...
    permit.release()
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque

import anyio

from foldrag.core.errors import Overloaded


class GenerationGate:
    def __init__(self, concurrent: int, queued: int) -> None:
        if concurrent < 1 or queued < 0:
            raise ValueError("concurrent must be >= 1 and queued >= 0")
        self.concurrent = concurrent
        self.capacity = concurrent + queued
        # Re-entrant: a dropped Permit may be finalized (and release) while this thread holds the lock.
        self._lock = threading.RLock()
        self._admitted = 0
        self._running = 0
        self._durations: deque[float] = deque(maxlen=20)

    @property
    def running(self) -> int:
        return self._running

    @property
    def waiting(self) -> int:
        return self._admitted - self._running

    def retry_after(self) -> int:
        """Seconds until a slot is likely free: recent generation time × the queue ahead, per slot."""
        typical = sum(self._durations) / len(self._durations) if self._durations else 5.0
        return max(1, math.ceil(typical * (self.waiting + 1) / self.concurrent))

    def admit(self) -> "Permit":
        with self._lock:
            if self._admitted >= self.capacity:
                raise Overloaded(
                    f"the generation queue is full ({self._running} running, {self.waiting} waiting); retry later",
                    retry_after=self.retry_after(),
                )
            self._admitted += 1
        return Permit(self)

    def _try_start(self) -> bool:
        with self._lock:
            if self._running >= self.concurrent:
                return False
            self._running += 1
            return True

    def _release(self, started: bool, seconds: float) -> None:
        with self._lock:
            self._admitted -= 1
            if started:
                self._running -= 1
                self._durations.append(seconds)


class Permit:
    """A place in the queue; ``try_start`` turns it into a running slot. ``release`` is idempotent."""

    def __init__(self, gate: GenerationGate) -> None:
        self._gate = gate
        self._started_at: float | None = None
        self._released = False

    def try_start(self) -> bool:
        if self._started_at is None and self._gate._try_start():
            self._started_at = time.perf_counter()
        return self._started_at is not None

    async def start(self) -> None:
        """Wait for a running slot. Polled from the event loop rather than blocking a thread, so a
        request cancelled while it waits simply leaves the queue."""
        while not self.try_start():
            await anyio.sleep(0.05)

    def release(self) -> None:
        if self._released:
            return
        self._released = True
        started = self._started_at is not None
        self._gate._release(started, time.perf_counter() - self._started_at if started else 0.0)

    def __del__(self) -> None:  # a response that was never iterated must not hold its place forever
        self.release()
