"""Queries go before ingest batches on the shared embedder."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from rag.core.priority_lock import PriorityLock
from rag.embedders import SentenceTransformerEmbedder


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
