"""A lock that lets interactive work go first: while a query waits, bulk work does not take the lock.

The embedder is shared by ingest (hundreds of chunks per call) and queries (one text). Ingest takes
the lock one batch at a time, and a query that arrives waits for at most the batch in progress.

Example::

    lock = PriorityLock()
    with lock.hold(urgent=True):   # a query
        ...
    with lock.hold():              # one batch of an ingest
        ...
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class PriorityLock:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._busy = False
        self._urgent_waiting = 0

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
                self._cond.wait_for(lambda: not self._busy and not self._urgent_waiting)
            self._busy = True
        try:
            yield
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()
