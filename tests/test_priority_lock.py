"""Queries go before ingest batches on the shared embedder.

Every test orders its threads by events and reads time from a clock it moves by hand, so what it
asserts holds on a loaded machine as on an idle one: no sleeps, no wall-clock bounds.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from foldrag.core.priority_lock import PriorityLock
from foldrag.embedders import SentenceTransformerEmbedder

PATIENCE = 30  # seconds a test waits for an event that must come (only a broken lock waits that long)


class Clock:
    """Time that moves only when the test moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float, lock: PriorityLock) -> None:
        self.now += seconds
        lock.wake()


def _until(condition) -> None:
    """Wait until another thread has reached a state the lock reports (``condition()``): a poll of
    that state, so the assertions after it never depend on how long it took."""
    idle = threading.Event()
    while not condition():
        idle.wait(0.001)


def _thread(target, *args) -> tuple[threading.Thread, threading.Event]:
    finished = threading.Event()

    def run():
        target(*args)
        finished.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, finished


class _HeldModel:
    """An encoder whose first bulk batch waits for the test to let it go; records who encoded."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self.tokenizer = None
        self.in_first_batch = threading.Event()
        self.release = threading.Event()

    def get_embedding_dimension(self) -> int:
        return 2

    def encode(self, texts, **kwargs):
        kind = "query" if texts == ["q"] else "bulk"
        self.calls.append((kind, len(texts)))
        if kind == "bulk" and len(self.calls) == 1:
            self.in_first_batch.set()
            assert self.release.wait(PATIENCE)
        return np.ones((len(texts), 2), dtype=np.float32)


def test_a_query_waits_for_one_ingest_batch_at_most():
    model = _HeldModel()
    embedder = SentenceTransformerEmbedder(model, name="slow", batch_size=8, tokenizer=object())
    bulk, bulk_done = _thread(lambda: embedder.embed(["t"] * 160))  # 20 batches
    assert model.in_first_batch.wait(PATIENCE)  # the ingest is under way, in its first batch
    vectors = []
    query, query_done = _thread(lambda: vectors.append(embedder.embed(["q"], query=True)))
    _until(lambda: embedder.waiting()[0] == 1)  # the query waits for the lock
    model.release.set()
    assert query_done.wait(PATIENCE) and bulk_done.wait(PATIENCE)
    assert vectors[0].shape == (1, 2)
    kinds = [kind for kind, _ in model.calls]
    assert kinds.index("query") == 1, kinds  # right after the batch it waited for, not after the ingest
    assert sum(n for kind, n in model.calls if kind == "bulk") == 160 and {n for _, n in model.calls} <= {8, 1}


def _slice(lock: PriorityLock) -> None:
    with lock.hold():
        pass


def _parse(lock: PriorityLock) -> None:
    with lock.bulk_turn():
        pass


def _query(lock: PriorityLock) -> None:
    with lock.hold(urgent=True):
        pass


def test_bulk_work_gets_its_share_while_queries_keep_coming():
    """While queries come, bulk runs on credit (``share`` per second, up to ``burst``): once spent,
    the next slice waits; it runs again when the credit is earned back."""
    clock = Clock()
    lock = PriorityLock(grace=0.2, share=0.2, burst=0.05, clock=clock)
    with lock.hold(urgent=True):  # a query: queries are coming
        clock.advance(0.005, lock)
    slices = 0
    for _ in range(3):  # slices of 20 ms with a query between each, within the grace
        with lock.hold():
            clock.advance(0.02, lock)
            slices += 1
        with lock.hold(urgent=True):
            clock.advance(0.001, lock)
    # 60 ms of bulk in 63 ms: the burst (50 ms) and what 63 ms earn at 0.2/s (13 ms) are spent
    _, finished = _thread(_slice, lock)
    _until(lambda: lock.waiting()[1] == 1)  # refused: it waits for credit
    assert not finished.is_set() and slices == 3
    _, query_done = _thread(_query, lock)  # a query meanwhile goes at once
    assert query_done.wait(PATIENCE)
    clock.advance(0.05, lock)  # 10 ms of credit earned back: the slice runs
    assert finished.wait(PATIENCE)


def test_without_queries_bulk_runs_whatever_its_credit():
    clock = Clock()
    lock = PriorityLock(grace=0.2, share=0.2, burst=0.05, clock=clock)
    with lock.hold(urgent=True):
        clock.advance(0.005, lock)
    clock.advance(0.3, lock)  # the grace has passed since the last query
    for _ in range(10):  # 0.2 s of bulk work, four times the burst: never refused
        with lock.hold():
            clock.advance(0.02, lock)
        assert lock.waiting() == (0, 0)


def test_urgent_holders_go_first_and_nothing_runs_twice():
    lock = PriorityLock()
    order, running = [], []

    def work(name, urgent):
        with lock.hold(urgent=urgent):
            running.append(name)
            assert len(running) == 1
            order.append(name)
            running.remove(name)

    with lock.hold():
        bulk = [_thread(work, f"bulk{i}", False) for i in range(3)]
        _until(lambda: lock.waiting()[1] == 3)
        urgent = _thread(work, "query", True)
        _until(lambda: lock.waiting()[0] == 1)
    for _, finished in bulk + [urgent]:
        assert finished.wait(PATIENCE)
    assert order[0] == "query" and sorted(order[1:]) == ["bulk0", "bulk1", "bulk2"]


def test_parsing_takes_turns_with_queries_without_excluding_them():
    clock = Clock()
    lock = PriorityLock(grace=0.2, share=0.2, burst=0.05, clock=clock)
    with lock.bulk_turn():  # no queries: at once, and a query is not held up by it
        _, query_done = _thread(_query, lock)
        assert query_done.wait(PATIENCE)
    with lock.hold(urgent=True):
        clock.advance(0.005, lock)
    with lock.bulk_turn():  # one long file while queries come: more than the burst
        clock.advance(0.06, lock)
    _, parsed = _thread(_parse, lock)  # the next file waits for its turn …
    _until(lambda: lock.waiting()[1] == 1)
    assert not parsed.is_set()
    _, query_done = _thread(_query, lock)  # … queries do not
    assert query_done.wait(PATIENCE)
    clock.advance(0.1, lock)  # the debt (10 ms) earned back
    assert parsed.wait(PATIENCE), "parsing never got its turn back"


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
            threads.append(_thread(_take, lock, order, n))
            _until(lambda n=n: lock.waiting()[0] == n + 1)  # queued before the next asks
    for _, finished in threads:
        assert finished.wait(PATIENCE)
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
    lock = PriorityLock(condition=_Interrupting())
    order: list[int] = []
    gave_up = threading.Event()

    def impatient():
        try:
            with lock.hold(urgent=True):
                order.append(-1)
        except _GaveUp:
            gave_up.set()

    with lock.hold(urgent=True):
        _, first = _thread(impatient)
        assert first.wait(PATIENCE) and gave_up.is_set()
        _, second = _thread(_take, lock, order, 0)
        _until(lambda: lock.waiting()[0] == 1)
    assert second.wait(PATIENCE), "the query behind the one that gave up never got the lock"
    assert order == [0] and lock.waiting() == (0, 0)
    _, bulk = _thread(_slice, lock)  # no query is counted as still waiting
    assert bulk.wait(PATIENCE)


def _take(lock, order, n):
    with lock.hold(urgent=True):
        order.append(n)


class _LengthModel:
    """An encoder whose vector of a text is (its length, its first character's code); records batches."""

    tokenizer = None

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def get_embedding_dimension(self) -> int:
        return 2

    def encode(self, texts, **kwargs):
        self.batches.append(list(texts))
        return np.array([[len(t), ord(t[0])] for t in texts], dtype=np.float32)


def test_bulk_slices_hold_texts_of_like_length_and_vectors_keep_the_input_order():
    """An ingest's texts go to the model longest first across the whole call, as one
    SentenceTransformer.encode call sorts them: a slice of 8 then pads to neighbours of its own
    length, not to the longest of 8 texts in file order (ingest fell to 0.75x raw encoding)."""
    model = _LengthModel()
    embedder = SentenceTransformerEmbedder(model, name="lengths", batch_size=8, tokenizer=object())
    texts = [chr(65 + i % 26) * (1 + (i * 37) % 50) for i in range(40)]
    vectors = embedder.embed(texts)
    assert [len(b) for b in model.batches] == [8] * 5
    lengths = [len(t) for batch in model.batches for t in batch]
    assert lengths == sorted(lengths, reverse=True)
    assert vectors.tolist() == [[len(t), ord(t[0])] for t in texts]
    assert embedder.embed(["q"], query=True).tolist() == [[1, ord("q")]]
