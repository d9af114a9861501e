"""``Once``: a zero-argument factory built on first call, once, under a lock (models load lazily);
``MODEL_BUILDING``: the lock every model factory holds while it builds."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

# Models are built one at a time in a process: transformers builds a model under process-wide state
# (its loader's meta-device context), and two models built at once from two threads came out with
# meta tensors ("Cannot copy out of meta tensor"; the embedder while the LLM loaded, 2026-12-02).
MODEL_BUILDING = threading.RLock()


class Once(Generic[T]):
    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._done = False
        self._value: T | None = None

    @property
    def done(self) -> bool:
        return self._done

    def __call__(self) -> T:
        with self._lock:
            if not self._done:
                self._value = self._factory()
                self._done = True
            return self._value  # type: ignore[return-value]
