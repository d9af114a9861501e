import math

import pytest

from foldrag.evaluation.metrics import mrr_at, ndcg_at, percentile, recall_at


def test_ndcg_hand_computed():
    rel = {"d1": 1, "d3": 1}
    # hits at ranks 2 and 3: (1/log2 3 + 1/log2 4) / (1/log2 2 + 1/log2 3)
    expected = (1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert ndcg_at(["x", "d1", "d3"], rel) == pytest.approx(expected)
    assert ndcg_at(["d1", "d3"], rel) == pytest.approx(1.0)
    assert ndcg_at(["x"], rel) == 0.0


def test_graded_ndcg():
    rel = {"a": 2, "b": 1}
    assert ndcg_at(["b", "a"], rel) == pytest.approx((1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3)))


def test_recall_and_mrr():
    rel = {"a": 1, "b": 1, "c": 1, "d": 1}
    assert recall_at(["a", "x", "b"], rel, 2) == 0.25
    assert recall_at(["a", "x", "b"], rel, 10) == 0.5
    assert mrr_at(["x", "y", "b"], rel) == pytest.approx(1 / 3)
    assert mrr_at(["x"] * 10 + ["a"], rel, 10) == 0.0


def test_percentile():
    assert percentile([1, 2, 3, 4, 5], 0.5) == 3
    assert percentile(list(range(1, 101)), 0.95) == pytest.approx(95.05)
