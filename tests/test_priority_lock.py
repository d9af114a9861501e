"""Queries go before ingest batches on the shared embedder."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from foldrag.core.priority_lock import PriorityLock
from foldrag.embedders import SentenceTransformerEmbedder


class _SlowModel:
    """Encodes in 20 ms per call and records who encoded when."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self.tokenizer = None

    def get_embedding_dimension(self) -> int:
        return 2

    def encode(self, texts, **kwargs):
        self.calls.append(("query" if texts == ["q"] else "bulk", len(texts)))
        time.sleep(0.02)
        return np.ones((len(texts), 2), dtype=np.float32)


def test_a_query_waits_for_one_ingest_batch_at_most():
    model = _SlowModel()
    embedder = SentenceTransformerEmbedder(model, name="slow", batch_size=8, tokenizer=object())
    bulk = threading.Thread(target=lambda: embedder.embed(["t"] * 160))  # 20 batches, ~400 ms
    bulk.start()
    time.sleep(0.05)  # the ingest is under way
    t0 = time.perf_counter()
    vectors = embedder.embed(["q"], query=True)
    waited = time.perf_counter() - t0
    bulk.join()
    assert vectors.shape == (1, 2)
    assert waited < 0.2, f"the query waited {waited:.3f} s (a whole ingest call is ~0.4 s)"
    kinds = [kind for kind, _ in model.calls]
    assert kinds.index("query") < len(kinds) - 2, "the query went in between the ingest's batches"
    assert sum(n for kind, n in model.calls if kind == "bulk") == 160 and {n for _, n in model.calls} <= {8, 1}


def _query_stream(lock, stop, hold=0.005, gap=0.002):
    """Queries back to back: each holds the lock ``hold`` s, the next comes ``gap`` s later."""
    while not stop.is_set():
        with lock.hold(urgent=True):
            time.sleep(hold)
        time.sleep(gap)


def test_bulk_work_gets_its_share_while_queries_keep_coming():
    # A long grace, so that a query thread descheduled on a loaded machine still counts as coming;
    # without the share, bulk slices (20 ms) alternating with queries (5 ms) would take ~0.8.
    lock = PriorityLock(grace=0.2, share=0.2, burst=0.05)
    stop = threading.Event()
    asker = threading.Thread(target=_query_stream, args=(lock, stop))
    asker.start()
    time.sleep(0.05)
    bulk_s, t0 = 0.0, time.perf_counter()
    while time.perf_counter() - t0 < 1.5:
        with lock.hold():
            started = time.perf_counter()
            time.sleep(0.02)  # one slice of embedding
            bulk_s += time.perf_counter() - started
    elapsed = time.perf_counter() - t0
    stop.set()
    asker.join()
    assert 0.08 <= bulk_s / elapsed <= 0.55, f"bulk had {bulk_s / elapsed:.2f} of the time under load, not ~0.2"
    time.sleep(0.25)  # the grace after the last query
    t0 = time.perf_counter()
    for _ in range(10):  # no queries (after the grace): at once, whatever the credit
        with lock.hold():
            time.sleep(0.02)
    assert time.perf_counter() - t0 < 0.3


def test_urgent_holders_go_first_and_nothing_runs_twice():
    lock = PriorityLock()
    order, running = [], []

    def work(name, urgent):
        with lock.hold(urgent=urgent):
            running.append(name)
            assert len(running) == 1
            order.append(name)
            time.sleep(0.01)
            running.remove(name)

    with lock.hold():
        threads = [threading.Thread(target=work, args=(f"bulk{i}", False)) for i in range(3)]
        for t in threads:
            t.start()
        time.sleep(0.05)
        urgent = threading.Thread(target=work, args=("query", True))
        urgent.start()
        time.sleep(0.05)
    for t in threads + [urgent]:
        t.join()
    assert order[0] == "query" and sorted(order[1:]) == ["bulk0", "bulk1", "bulk2"]


def test_parsing_takes_turns_with_queries_without_excluding_them():
    lock = PriorityLock(grace=0.2, share=0.2, burst=0.05)
    with lock.bulk_turn():  # no queries: at once, and a query is not held up by it
        t0 = time.perf_counter()
        with lock.hold(urgent=True):
            pass
        assert time.perf_counter() - t0 < 0.05
    stop = threading.Event()
    asker = threading.Thread(target=_query_stream, args=(lock, stop))
    asker.start()
    time.sleep(0.05)
    parsed_s, turns, t0 = 0.0, 0, time.perf_counter()
    while time.perf_counter() - t0 < 1.5:
        with lock.bulk_turn():
            started = time.perf_counter()
            time.sleep(0.03)  # parsing one file
            parsed_s += time.perf_counter() - started
            turns += 1
    elapsed = time.perf_counter() - t0
    stop.set()
    asker.join()
    assert turns >= 3, "parsing was starved by the queries"
    assert parsed_s / elapsed <= 0.55, f"parsing took {parsed_s / elapsed:.2f} of the time under load (ungated: ~1)"


def test_share_must_be_a_fraction():
    with pytest.raises(ValueError):
        PriorityLock(share=0)


def test_queries_take_the_lock_in_the_order_they_asked():
    # Waking every waiter to race for the lock let one lose again and again: p99 five times the median
    # with 50 clients on /v1/retrieve (docs/BENCHMARKS.md, "HTTP API load").
    lock = PriorityLock()
    order: list[int] = []
    threads = []
    with lock.hold(urgent=True):
        for n in range(12):
            thread = threading.Thread(target=lambda n=n: _take(lock, order, n))
            thread.start()
            threads.append(thread)
            deadline = time.monotonic() + 5
            while len(lock._line) < n + 1 and time.monotonic() < deadline:  # queued before the next asks
                time.sleep(0.001)
    for thread in threads:
        thread.join(5)
    assert order == list(range(12))


class _GaveUp(Exception):
    pass


class _Interrupting(threading.Condition):
    """The first waiter that would wait is interrupted instead (as a cancelled request's thread is)."""

    def __init__(self) -> None:
        super().__init__()
        self.interrupt = True

    def wait_for(self, predicate, timeout=None):
        if self.interrupt and not predicate():
            self.interrupt = False
            raise _GaveUp
        return super().wait_for(predicate, timeout)


def test_a_query_that_gives_up_waiting_leaves_the_line():
    lock = PriorityLock()
    lock._cond = _Interrupting()
    got, gave_up = threading.Event(), threading.Event()

    def impatient():
        try:
            with lock.hold(urgent=True):
                pass
        except _GaveUp:
            gave_up.set()

    with lock.hold(urgent=True):
        first = threading.Thread(target=impatient)
        first.start()
        first.join(5)
        second = threading.Thread(target=lambda: _take(lock, [], 0, got))
        second.start()
        while not lock._line:
            time.sleep(0.001)
    second.join(5)
    assert gave_up.is_set() and got.is_set(), "the query behind the one that gave up never got the lock"
    assert not lock._line and lock._urgent == 0


def _take(lock, order, n, done=None):
    with lock.hold(urgent=True):
        order.append(n)
        time.sleep(0.002)
    if done is not None:
        done.set()
