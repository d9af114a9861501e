import pytest

from foldrag.retrieval.fusion import Fusion, Ranked, distribution_based, min_max


def _lists(*pairs):
    """Ranked lists from ``[(id, score), ...]`` each."""
    return [Ranked(tuple(i for i, _ in pairs_), tuple(s for _, s in pairs_)) for pairs_ in pairs]


def _scores(fused):
    return {f.id: f.score for f in fused}


def test_rrf_hand_computed_scores():
    rrf = Fusion("rrf", k=60)
    lists = _lists([("a", 9), ("b", 5), ("c", 1)], [("b", 0.9), ("d", 0.1)])
    fused = rrf(lists, [1, 1])
    assert _scores(fused)["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert _scores(fused)["a"] == pytest.approx(1 / 61)
    assert _scores(fused)["d"] == pytest.approx(1 / 62)
    assert _scores(fused)["c"] == pytest.approx(1 / 63)
    assert [f.id for f in fused] == ["b", "a", "d", "c"]


def test_rrf_weights_and_k():
    assert _scores(Fusion("rrf", k=0)(_lists([("a", 1)], [("b", 1)]), [2.0, 1.0])) == {"a": 2.0, "b": 1.0}
    assert [f.id for f in Fusion("rrf")(_lists([("a", 1), ("b", 0)], [("b", 1), ("a", 0)]), [1.0, 3.0])] == ["b", "a"]


def test_min_max_and_distribution_based_normalisation():
    assert min_max([10.0, 5.0, 0.0]) == [1.0, 0.5, 0.0]
    assert min_max([3.0, 3.0]) == [1.0, 1.0]
    assert min_max([]) == []
    # mean 0, σ = 1 over [1, -1]: (s + 3) / 6
    assert distribution_based([1.0, -1.0]) == pytest.approx([4 / 6, 2 / 6])
    assert distribution_based([5.0]) == [1.0]
    assert distribution_based([100.0] + [0.0] * 99)[0] == 1.0  # clipped at mean + 3σ


def test_convex_combination_hand_computed():
    """dense cosines [0.9, 0.6, 0.3] → [1, 0.5, 0]; BM25 [12, 4] → [1, 0]; dense weight 0.3."""
    lists = _lists([("a", 0.9), ("b", 0.6), ("c", 0.3)], [("c", 12.0), ("b", 4.0)])
    fused = Fusion("convex", "minmax")(lists, [0.3, 0.7])
    assert _scores(fused) == pytest.approx({"c": 0.7, "a": 0.3, "b": 0.15})
    assert [f.id for f in fused] == ["c", "a", "b"]
    [dense_part, bm25_part] = fused[0].parts
    assert (dense_part.list, dense_part.rank, dense_part.raw, dense_part.normalised) == (0, 3, 0.3, 0.0)
    assert (bm25_part.list, bm25_part.rank, bm25_part.raw, bm25_part.normalised) == (1, 1, 12.0, 1.0)
    assert bm25_part.weight == 0.7 and bm25_part.contribution == pytest.approx(0.7)


def test_convex_uses_scores_where_rrf_uses_only_ranks():
    """BM25's top two nearly tied, dense's winner clear: the convex combination keeps dense's winner
    (x: 0.3 × 1 + 0.7 × 8.9/9 = 0.992 against y's 0.7); RRF sees only ranks and puts BM25's top first
    (y: 0.3/5 + 0.7/3 = 0.293 against x's 0.3/3 + 0.7/4 = 0.275)."""
    lists = _lists([("x", 0.95), ("z", 0.50), ("y", 0.49)], [("y", 10.0), ("x", 9.9), ("z", 1.0)])
    assert [f.id for f in Fusion("convex")(lists, [0.3, 0.7])][:2] == ["x", "y"]
    assert [f.id for f in Fusion("rrf", k=2)(lists, [0.3, 0.7])][:2] == ["y", "x"]


def test_a_weight_may_depend_on_the_id():
    """Hybrid retrieval weighs a passage by its language: here 'en' passages take dense alone."""
    lists = _lists([("ko", 0.5), ("en", 0.9)], [("ko", 7.0), ("en", 6.0)])
    dense = {"ko": 0.3, "en": 1.0}
    fused = Fusion()(lists, [lambda i: dense[i], lambda i: 1 - dense[i]])
    assert _scores(fused) == pytest.approx({"en": 1.0, "ko": 0.7})


def test_ties_keep_first_seen_order_and_duplicates_count_once():
    assert [f.id for f in Fusion("rrf")(_lists([("x", 1), ("y", 1)], [("y", 1), ("x", 1)]), [1, 1])] == ["x", "y"]
    fused = Fusion("rrf", k=0)(_lists([("a", 3), ("a", 2), ("b", 1)]), [1])
    assert _scores(fused) == {"a": 1.0, "b": pytest.approx(1 / 2)}
    assert len(fused[0].parts) == 1


def test_empty_lists_and_bad_arguments():
    assert Fusion()([], []) == []
    assert Fusion()(_lists([], []), [1, 1]) == []
    with pytest.raises(ValueError, match="one weight per"):
        Fusion()(_lists([("a", 1)]), [1, 2])
    with pytest.raises(ValueError, match="one score per"):
        Fusion()([Ranked(("a", "b"), (1.0,))], [1])
    with pytest.raises(ValueError, match="unknown fusion method"):
        Fusion("sum")
    with pytest.raises(ValueError, match="unknown normalisation"):
        Fusion("convex", "zscore")
    with pytest.raises(ValueError, match="k must be"):
        Fusion("rrf", k=-1)


def test_a_window_normalises_a_deeper_list_as_one_that_stops_there():
    """An evaluation fetches 200 deep, the answer path 50: with the window, the top ranks fuse the same."""
    dense = [("a", 0.9), ("b", 0.8), ("c", 0.7), ("d", 0.2)]
    bm25 = [("c", 8.0), ("a", 6.0), ("b", 4.0), ("e", 1.0)]
    shallow = Fusion()(_lists(dense[:3], bm25[:3]), [0.5, 0.5])
    deep = Fusion(window=3)(_lists(dense, bm25), [0.5, 0.5])
    assert [(f.id, round(f.score, 9)) for f in deep[:3]] == [(f.id, round(f.score, 9)) for f in shallow]
    assert {f.id: f.score for f in deep[3:]} == {"d": 0.0, "e": 0.0}  # below the window: clipped at 0
    assert min_max([5.0, 3.0, 1.0, -4.0], window=3) == [1.0, 0.5, 0.0, 0.0]
    assert distribution_based([2.0, 2.0, 1.0], window=2) == [1.0, 1.0, 0.0]
