import pytest

from rag.retrieval.fusion import reciprocal_rank_fusion as rrf


def test_hand_computed_scores():
    fused = dict(rrf([["a", "b", "c"], ["b", "d"]], k=60))
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert fused["a"] == pytest.approx(1 / 61)
    assert fused["d"] == pytest.approx(1 / 62)
    assert fused["c"] == pytest.approx(1 / 63)
    assert [i for i, _ in rrf([["a", "b", "c"], ["b", "d"]])] == ["b", "a", "d", "c"]


def test_ties_keep_first_seen_order():
    assert [i for i, _ in rrf([["x", "y"], ["y", "x"]])] == ["x", "y"]
    assert [i for i, _ in rrf([["p"], ["q"], ["r"]])] == ["p", "q", "r"]


def test_lists_of_different_lengths_and_empty_lists():
    assert rrf([]) == []
    assert rrf([[], []]) == []
    assert [i for i, _ in rrf([["a"], [], ["b", "c", "a"]])] == ["a", "b", "c"]


def test_weights_and_k():
    fused = dict(rrf([["a"], ["b"]], weights=[2.0, 1.0], k=0))
    assert fused == {"a": 2.0, "b": 1.0}
    assert [i for i, _ in rrf([["a", "b"], ["b", "a"]], weights=[1.0, 3.0])] == ["b", "a"]
    with pytest.raises(ValueError):
        rrf([["a"]], weights=[1.0, 2.0])


def test_duplicates_inside_one_list_count_once_at_best_rank():
    assert dict(rrf([["a", "a", "b"]], k=0)) == {"a": 1.0, "b": pytest.approx(1 / 3)}


def test_a_hybrid_query_runs_its_retrievers_at_once():
    """Two retrievers that each take 0.3 s: the hybrid query takes about 0.3 s, not 0.6, and fuses
    both lists in the order the retrievers were given."""
    import threading
    import time

    from rag.core.settings import RetrievalSettings
    from rag.core.types import Chunk, Hit
    from rag.retrieval.hybrid import HybridRetriever, Weighted

    threads: set[str] = set()

    class Slow:
        def __init__(self, name, ids):
            self.name, self.ids = name, ids

        def search(self, queries, k):
            threads.add(threading.current_thread().name)
            time.sleep(0.3)
            return [[Hit(Chunk(id=i, source=f"{i}.txt", text=i), 1.0) for i in self.ids] for _ in queries]

    hybrid = HybridRetriever([Weighted(Slow("dense", ["a", "b"])), Weighted(Slow("bm25", ["b", "c"]))],
                             RetrievalSettings())
    t0 = time.perf_counter()
    found = hybrid.retrieve("question", 3, "hybrid")
    elapsed = time.perf_counter() - t0
    assert elapsed < 0.5 and len(threads) == 2
    assert [r.retriever for r in found.trace.lists] == ["dense", "bm25"]
    assert [h.chunk.id for h in found.hits] == ["b", "a", "c"]
    assert 250 < found.trace.timings_ms["dense"] < 450 and 250 < found.trace.timings_ms["bm25"] < 450
