"""One question over several collections: each collection's own retrieval (its index, its mode),
their final lists fused by the configured fusion function (each collection weighs the same), each
hit tagged with the collection it came from (so a citation opens in the right one)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Protocol

from foldrag.core.types import Hit, Signal
from foldrag.retrieval.fusion import Fused, Fusion, Part, Ranked
from foldrag.retrieval.hybrid import RankedList, Retrieval, Trace


class _Ranking(Protocol):
    def retrieve(self, query: str, k: int, mode: str) -> Retrieval: ...


@dataclasses.dataclass(frozen=True)
class Across:
    """A ranking over ``rankings`` (collection name → that collection's ranking, e.g. its
    ``HybridRetriever``): what ``Question.retriever`` holds for a question asked of several."""

    rankings: Mapping[str, _Ranking]
    fusion: Fusion = Fusion()

    def retrieve(self, query: str, k: int, mode: str) -> Retrieval:
        results = {name: ranking.retrieve(query, k, mode) for name, ranking in self.rankings.items()}
        hits = {(name, h.chunk.id): h for name, r in results.items() for h in r.hits}
        fused = self.fusion([Ranked(tuple((name, h.chunk.id) for h in r.hits), tuple(h.score for h in r.hits))
                             for name, r in results.items()], [1.0] * len(results))
        out = []
        for rank, f in enumerate(fused[:k], start=1):
            hit = hits[f.id]
            out.append(Hit(hit.chunk, f.score, (*hit.signals, Signal("collections", rank, f.score)),
                           collection=f.id[0]))
        first = next(iter(results.values())).trace
        trace = Trace(mode=mode, queries=first.queries,
                      lists=tuple(RankedList(query, f"collection:{name}", tuple(h.chunk.id for h in r.hits),
                                             tuple(h.score for h in r.hits))
                                  for name, r in results.items()),
                      fused=tuple(Fused(f.id[1], f.score, tuple(Part(*dataclasses.astuple(p)) for p in f.parts))
                                  for f in fused),
                      timings_ms={f"{name}.{part}": ms for name, r in results.items()
                                  for part, ms in r.trace.timings_ms.items()},
                      fusion=f"{self.fusion.method} over the collections' lists, each weighing 1",
                      notes=tuple(note for r in results.values() for note in r.trace.notes))
        return Retrieval(hits=tuple(out), trace=trace)
