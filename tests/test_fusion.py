import pytest

from foldrag.retrieval.fusion import reciprocal_rank_fusion as rrf


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
