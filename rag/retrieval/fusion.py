"""Reciprocal Rank Fusion (a pure function)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence


def reciprocal_rank_fusion(
    ranked_lists: Sequence[Sequence[Hashable]],
    weights: Sequence[float] | None = None,
    k: float = 60.0,
) -> list[tuple[Hashable, float]]:
    """Fuse ranked lists of ids: ``score(id) = Σ weight_i / (k + rank_i(id))``, ranks from 1.

    An id repeated inside one list counts at its best rank only. Ties keep the order in which ids
    were first seen (earlier lists, better ranks first), so the result is deterministic.

    >>> reciprocal_rank_fusion([["a", "b"], ["b", "c"]], k=60)[0][0]
    'b'
    """
    if k < 0:
        raise ValueError("k must be >= 0")
    if weights is None:
        weights = [1.0] * len(ranked_lists)
    if len(weights) != len(ranked_lists):
        raise ValueError("one weight per ranked list")
    scores: dict[Hashable, float] = {}
    for ranked, weight in zip(ranked_lists, weights):
        seen: set[Hashable] = set()
        for rank, item in enumerate(ranked, start=1):
            if item in seen:
                continue
            seen.add(item)
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    order = {item: i for i, item in enumerate(scores)}
    return sorted(scores.items(), key=lambda pair: (-pair[1], order[pair[0]]))
