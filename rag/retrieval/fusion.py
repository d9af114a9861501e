"""Fusion functions (pure): ranked lists with their scores → one ranking, with each list's part in it.

- ``rrf``: Σ weight / (k + rank) (Cormack, Clarke & Büttcher 2009); scores are ignored.
- ``convex``: Σ weight × normalised score (Bruch, Gai & Ingber, "An Analysis of Fusion Functions for
  Hybrid Retrieval", TOIS 2023), each list's scores normalised over that list:
  ``minmax`` to [0, 1] between its lowest and highest score, or ``dbsf`` (distribution-based, as
  Qdrant's): (s − (μ − 3σ)) / 6σ, clipped to [0, 1].

``window`` (> 0) normalises each list by its first ``window`` scores only, a deeper score clipped to
[0, 1] against them: a list fetched deeper (an evaluation's 200) then fuses its top ranks exactly
as one fetched ``window`` deep (the answer path's 50).

A list's weight is a number, or a function of the id (hybrid retrieval weighs a passage by the
language pair of question and passage). An id repeated inside one list counts at its best rank only;
ties keep the order in which ids were first seen (earlier lists, better ranks first). An id a list
did not return gets nothing from that list.

>>> fused = Fusion("rrf", k=60)([Ranked(("a", "b"), (2.0, 1.0)), Ranked(("b", "c"), (0.9, 0.8))], [1, 1])
>>> fused[0].id
'b'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Literal, Union

Weight = Union[float, Callable[[Hashable], float]]
METHODS = ("convex", "rrf")
NORMALISERS = ("minmax", "dbsf")


@dataclass(frozen=True)
class Ranked:
    """One ranked list: ids best first, with the scores its retriever gave them."""

    ids: tuple[Hashable, ...]
    scores: tuple[float, ...]


@dataclass(frozen=True)
class Part:
    """What one list gave one fused id: its rank there, raw and normalised score, weight, contribution."""

    list: int
    rank: int
    raw: float
    normalised: float
    weight: float
    contribution: float


@dataclass(frozen=True)
class Fused:
    id: Hashable
    score: float
    parts: tuple[Part, ...]


def min_max(scores: Sequence[float], window: int = 0) -> list[float]:
    """``scores`` mapped onto [0, 1] between the lowest and highest of their first ``window`` (0: all;
    deeper ones clipped at 0); all equal → all 1."""
    seen = scores[:window] if window > 0 else scores
    if not seen:
        return []
    low, high = min(seen), max(seen)
    if high - low <= 1e-12:
        return [1.0 if s >= low else 0.0 for s in scores]
    return [min(1.0, max(0.0, (s - low) / (high - low))) for s in scores]


def distribution_based(scores: Sequence[float], window: int = 0) -> list[float]:
    """``scores`` mapped onto [0, 1] between mean − 3σ and mean + 3σ of their first ``window`` (0: all),
    clipped; one score or σ = 0 → 1."""
    seen = scores[:window] if window > 0 else scores
    if not seen:
        return []
    mean = sum(seen) / len(seen)
    sigma = math.sqrt(sum((s - mean) ** 2 for s in seen) / len(seen))
    if sigma <= 1e-12:
        return [1.0 if s >= mean else 0.0 for s in scores]
    low = mean - 3 * sigma
    return [min(1.0, max(0.0, (s - low) / (6 * sigma))) for s in scores]


_NORMALISE: dict[str, Callable[[Sequence[float], int], list[float]]] = {
    "minmax": min_max, "dbsf": distribution_based}


@dataclass(frozen=True)
class Fusion:
    """A fusion function: ``method`` (convex or rrf), the normalisation a convex combination uses,
    the k of RRF and the normalisation window. Called with lists and one weight per list, it returns
    the fused ids, best first."""

    method: Literal["convex", "rrf"] = "convex"
    normalise: Literal["minmax", "dbsf"] = "minmax"
    k: float = 60.0
    window: int = 0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown fusion method {self.method!r}; choose one of {', '.join(METHODS)}")
        if self.normalise not in NORMALISERS:
            raise ValueError(f"unknown normalisation {self.normalise!r}; choose one of {', '.join(NORMALISERS)}")
        if self.k < 0:
            raise ValueError("k must be >= 0")

    def __call__(self, lists: Sequence[Ranked], weights: Sequence[Weight]) -> list[Fused]:
        if len(weights) != len(lists):
            raise ValueError("one weight per ranked list")
        parts: dict[Hashable, list[Part]] = {}
        for index, (ranked, weight) in enumerate(zip(lists, weights)):
            ids, raw = _first_occurrences(ranked)
            values = ([1.0 / (self.k + rank) for rank in range(1, len(ids) + 1)] if self.method == "rrf"
                      else _NORMALISE[self.normalise](raw, self.window))
            for rank, (item, score, value) in enumerate(zip(ids, raw, values), start=1):
                w = weight(item) if callable(weight) else float(weight)
                parts.setdefault(item, []).append(Part(index, rank, score, value, w, w * value))
        order = {item: i for i, item in enumerate(parts)}
        fused = [Fused(item, sum(p.contribution for p in found), tuple(found)) for item, found in parts.items()]
        return sorted(fused, key=lambda f: (-f.score, order[f.id]))


def _first_occurrences(ranked: Ranked) -> tuple[list[Hashable], list[float]]:
    if len(ranked.ids) != len(ranked.scores):
        raise ValueError("one score per id")
    seen: set[Hashable] = set()
    ids, scores = [], []
    for item, score in zip(ranked.ids, ranked.scores):
        if item not in seen:
            seen.add(item)
            ids.append(item)
            scores.append(float(score))
    return ids, scores
