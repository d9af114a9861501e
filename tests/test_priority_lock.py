"""Queries go before ingest batches on the shared embedder."""

from __future__ import annotations

import threading
import time

import numpy as np

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


def test_bulk_work_pauses_while_queries_keep_coming_but_is_never_starved():
    lock = PriorityLock(grace=0.05, max_wait=0.5)
    stop = threading.Event()
    bulk_at: list[float] = []

    def queries():
        while not stop.is_set():
            with lock.hold(urgent=True):
                time.sleep(0.002)
            time.sleep(0.01)  # the next query comes well within the grace period

    asker = threading.Thread(target=queries)
    asker.start()
    time.sleep(0.05)
    t0 = time.perf_counter()
    with lock.hold():
        bulk_at.append(time.perf_counter() - t0)
    stop.set()
    asker.join()
    assert 0.45 <= bulk_at[0] < 1.5, f"bulk went after {bulk_at[0]:.2f} s: not paused, or starved"
    t0 = time.perf_counter()
    with lock.hold():  # no queries: at once
        pass
    assert time.perf_counter() - t0 < 0.1


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


def test_parsing_between_items_waits_for_a_lull_in_the_queries():
    lock = PriorityLock(grace=0.05, max_wait=0.5)
    t0 = time.perf_counter()
    lock.wait_for_lull()  # no queries: at once
    assert time.perf_counter() - t0 < 0.05
    released = threading.Event()

    def query():
        with lock.hold(urgent=True):
            released.wait(1)

    asker = threading.Thread(target=query)
    asker.start()
    time.sleep(0.02)  # the query holds the lock
    waited: list[float] = []
    waiter = threading.Thread(target=lambda: (lock.wait_for_lull(), waited.append(time.perf_counter())))
    t0 = time.perf_counter()
    waiter.start()
    time.sleep(0.1)
    assert not waited, "parsing went on while a query was being embedded"
    released.set()
    let_go = time.perf_counter()
    asker.join()
    waiter.join()
    assert waited[0] - let_go >= 0.04, "parsing resumed before the grace period after the query"
    assert waited[0] - t0 < 0.45, "parsing waited for max_wait although the queries had stopped"


def test_parsing_is_never_starved_by_queries():
    lock = PriorityLock(grace=0.05, max_wait=0.3)
    stop = threading.Event()

    def queries():
        while not stop.is_set():
            with lock.hold(urgent=True):
                time.sleep(0.005)

    asker = threading.Thread(target=queries)
    asker.start()
    time.sleep(0.02)
    t0 = time.perf_counter()
    lock.wait_for_lull()
    waited = time.perf_counter() - t0
    stop.set()
    asker.join()
    assert 0.25 <= waited < 2.0, f"parsing resumed after {waited:.2f} s: not paused, or starved"
