"""``Once``: a zero-argument factory built on first call, once, under a lock (models load lazily)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Once(Generic[T]):
    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._done = False
        self._value: T | None = None

    def __call__(self) -> T:
        with self._lock:
            if not self._done:
                self._value = self._factory()
                self._done = True
            return self._value  # type: ignore[return-value]
