"""One question over several collections: each collection's own retrieval (its index, its mode),
their final lists fused by Reciprocal Rank Fusion, each hit tagged with the collection it came
from (so a citation opens in the right one)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Protocol

from foldrag.core.types import Hit, Signal
from foldrag.retrieval.fusion import reciprocal_rank_fusion
from foldrag.retrieval.hybrid import RankedList, Retrieval, Trace


class _Ranking(Protocol):
    def retrieve(self, query: str, k: int, mode: str) -> Retrieval: ...


@dataclasses.dataclass(frozen=True)
class Across:
    """A ranking over ``rankings`` (collection name → that collection's ranking, e.g. its
    ``HybridRetriever``): what ``Question.retriever`` holds for a question asked of several."""

    rankings: Mapping[str, _Ranking]
    rrf_k: float = 60.0

    def retrieve(self, query: str, k: int, mode: str) -> Retrieval:
        results = {name: ranking.retrieve(query, k, mode) for name, ranking in self.rankings.items()}
        hits = {(name, h.chunk.id): h for name, r in results.items() for h in r.hits}
        fused = reciprocal_rank_fusion([[(name, h.chunk.id) for h in r.hits] for name, r in results.items()],
                                       k=self.rrf_k)
        out = []
        for rank, (key, score) in enumerate(fused[:k], start=1):
            hit = hits[key]
            out.append(Hit(hit.chunk, score, (*hit.signals, Signal("collections", rank, score)), collection=key[0]))
        first = next(iter(results.values())).trace
        trace = Trace(mode=mode, queries=first.queries,
                      lists=tuple(RankedList(query, f"collection:{name}", 1.0, tuple(h.chunk.id for h in r.hits))
                                  for name, r in results.items()),
                      fused=tuple((cid, score) for (_, cid), score in fused),
                      timings_ms={f"{name}.{part}": ms for name, r in results.items()
                                  for part, ms in r.trace.timings_ms.items()},
                      notes=tuple(note for r in results.values() for note in r.trace.notes))
        return Retrieval(hits=tuple(out), trace=trace)
