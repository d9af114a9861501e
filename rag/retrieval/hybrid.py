"""The retrieval pipeline: (rewrites) → every retriever per query → RRF → (rerank), with a trace."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from foldrag.core.contracts import Reranker, Retriever
from foldrag.retrieval.fusion import reciprocal_rank_fusion
from foldrag.retrieval.multi_query import Rewrites
from foldrag.core.tokenize import has_hangul
from foldrag.core.settings import RetrievalSettings
from foldrag.core.types import Hit, Signal

MODES = ("dense", "bm25", "hybrid", "multi")
# A keyword match holding at least this share of the question's keywords is a real one, in any script.
STRONG_KEYWORD_MATCH = 0.5


@dataclass(frozen=True)
class RankedList:
    query: str
    retriever: str
    weight: float
    ids: tuple[str, ...]


@dataclass(frozen=True)
class Trace:
    mode: str
    queries: tuple[str, ...]
    lists: tuple[RankedList, ...]
    fused: tuple[tuple[str, float], ...]  # (chunk id, fused score), best first
    timings_ms: dict[str, float]
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self, top: int = 10) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "queries": list(self.queries),
            "lists": [{**asdict(r), "ids": list(r.ids[:top])} for r in self.lists],
            "fused": [{"id": i, "rank": n, "score": round(s, 6)} for n, (i, s) in enumerate(self.fused[:top], 1)],
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Retrieval:
    hits: tuple[Hit, ...]
    trace: Trace


@dataclass(frozen=True)
class Weighted:
    """One retriever in the fusion, with its RRF weight and the languages it ranks well in; for a
    question in a script it does not know, its weight is multiplied by ``foreign_factor``. Hits
    written in another script than the question (Hangul or not) count ``other_script_factor`` times
    their list's weight, in a list of their own (BM25 across languages matches only shared names)."""

    retriever: Retriever
    weight: float = 1.0
    languages: tuple[str, ...] = ("*",)
    foreign_factor: float = 1.0
    other_script_factor: float = 1.0

    def split_by_script(self, question: str, hits: list[Hit],
                        coverage: Callable[[str, str], float] | None = None) -> tuple[list[Hit], list[Hit]]:
        """``hits`` in the question's script, and those in the other one (empty when the factor is 1).
        A hit in the other script that holds half the question's keywords (``coverage``: a question
        in Korean around English terms, "harbor lanes 무엇인가요?") is a real match: it stays."""
        if self.other_script_factor == 1.0:
            return hits, []
        korean = has_hangul(question)
        same, other = [], []
        for hit in hits:
            kept = has_hangul(hit.chunk.text) == korean or (
                coverage is not None and coverage(question, hit.chunk.text) >= STRONG_KEYWORD_MATCH)
            (same if kept else other).append(hit)
        return same, other

    def weight_for(self, question: str) -> tuple[float, str]:
        """The RRF weight of this retriever's lists for ``question``, and a note when it was lowered."""
        if has_hangul(question) and not ({"*", "ko"} & set(self.languages)):
            return self.weight * self.foreign_factor, (
                f"the {self.retriever.name} retriever knows {list(self.languages)}, not Korean: "
                f"weight x{self.foreign_factor}"
            )
        return self.weight, ""


class HybridRetriever:
    """Runs one retrieval over one index snapshot: (rewrites) → every retriever on every query →
    RRF → (rerank). Modes: a retriever's name (its lists alone), 'hybrid' (all of them) and 'multi'
    (all of them on the question and its rewrites). The mode is resolved and checked by the caller.

    Example::

        retriever = HybridRetriever([Weighted(DenseRetriever(snap, emb)), Weighted(KeywordRetriever(...))],
                                    settings.retrieval)
        result = retriever.retrieve("RRF란?", k=5, mode="hybrid")
    """

    def __init__(self, retrievers: Sequence[Weighted], settings: RetrievalSettings, *,
                 rewrite: Callable[[str], Rewrites] | None = None,
                 reranker: Reranker | None = None,
                 coverage: Callable[[str, str], float] | None = None) -> None:
        self._retrievers = tuple(retrievers)
        self._settings = settings
        self._rewrite = rewrite
        self._reranker = reranker
        # The share of a question's keywords a text holds (the keyword tokenizer's); with it, a
        # question answered in the other language does not let weak same-language keyword matches
        # outvote the dense ranks (``_across_languages``).
        self._coverage = coverage

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(w.retriever.name for w in self._retrievers)

    def retrieve(self, question: str, k: int, mode: str) -> Retrieval:
        timings: dict[str, float] = {}
        notes: list[str] = []
        t_start = time.perf_counter()

        queries: tuple[str, ...] = (question,)
        if mode == "multi":
            assert self._rewrite is not None, "mode 'multi' is checked by the caller"
            t0 = time.perf_counter()
            rewrites = self._rewrite(question)
            timings["rewrite"] = (time.perf_counter() - t0) * 1000
            queries = rewrites.queries
            if rewrites.note:
                notes.append(rewrites.note)

        depth = max(self._settings.candidates, k)
        chosen = [w for w in self._retrievers if mode in ("hybrid", "multi") or w.retriever.name == mode]
        lists: list[RankedList] = []
        hits_by_id: dict[str, Hit] = {}
        signals: dict[str, dict[str, Signal]] = {}  # chunk id → ranker → its best rank over the queries
        for entry in chosen:
            t0 = time.perf_counter()
            weight, note = entry.weight_for(question) if len(chosen) > 1 else (1.0, "")
            if note:
                notes.append(note)
            name = entry.retriever.name
            for query, hits in zip(queries, entry.retriever.search(queries, depth)):
                for rank, hit in enumerate(hits, start=1):
                    hits_by_id.setdefault(hit.chunk.id, hit)
                    known = signals.setdefault(hit.chunk.id, {}).get(name)
                    if known is None or rank < known.rank:
                        signals[hit.chunk.id][name] = Signal(name, rank, hit.score)
                same, other = entry.split_by_script(query, hits, self._coverage) if len(chosen) > 1 else (hits, [])
                lists.append(RankedList(query, name, weight, tuple(h.chunk.id for h in same)))
                if other:
                    lists.append(RankedList(query, f"{name} (other script)", weight * entry.other_script_factor,
                                            tuple(h.chunk.id for h in other)))
            timings[entry.retriever.name] = (time.perf_counter() - t0) * 1000

        if self._across_languages(question, lists, hits_by_id):
            factor = self._settings.foreign_keyword_weight
            lists = [dataclasses.replace(r, weight=r.weight * factor) if r.retriever == "bm25" else r for r in lists]
            notes.append(f"the best dense passage is in the other language and no keyword match holds half the "
                         f"question's keywords: keyword weight x{factor}")
        t0 = time.perf_counter()
        fused = self._fuse(lists, hits_by_id)
        timings["fusion"] = (time.perf_counter() - t0) * 1000

        hits = [Hit(hits_by_id[cid].chunk, score,
                    (*signals[cid].values(), *([Signal("fused", n, score)] if len(lists) > 1 else [])))
                for n, (cid, score) in enumerate(fused, start=1)]
        if self._reranker is not None and hits:
            t0 = time.perf_counter()
            reranked = self._reranker.rerank(question, hits[: max(self._settings.rerank_top, k)])
            hits = [dataclasses.replace(h, signals=(*h.signals, Signal("rerank", n, h.score)))
                    for n, h in enumerate(reranked, start=1)]
            timings["rerank"] = (time.perf_counter() - t0) * 1000
        timings["total"] = (time.perf_counter() - t_start) * 1000
        trace = Trace(mode=mode, queries=queries, lists=tuple(lists), fused=tuple(fused),
                      timings_ms=timings, notes=tuple(notes))
        return Retrieval(hits=tuple(hits[:k]), trace=trace)

    def _across_languages(self, question: str, lists: list[RankedList], hits_by_id: dict[str, Hit]) -> bool:
        """True when ``question`` seems answered in the other language: the best dense passage is in
        the other script (Hangul or not), and the best keyword hit in the question's own script holds
        less than half its keywords — a match on common words ("days", "many"), which would
        otherwise outvote the dense ranks in a folder of both languages. Never in one language."""
        if self._coverage is None or self._settings.foreign_keyword_weight == 1.0:
            return False
        dense = next((r for r in lists if r.retriever == "dense" and r.query == question and r.ids), None)
        keyword = next((r for r in lists if r.retriever == "bm25" and r.query == question), None)
        if dense is None or keyword is None or dense.weight == 0:
            return False
        korean = has_hangul(question)
        if has_hangul(hits_by_id[dense.ids[0]].chunk.text) == korean:
            return False
        return not keyword.ids or self._coverage(question, hits_by_id[keyword.ids[0]].chunk.text) < STRONG_KEYWORD_MATCH

    def _fuse(self, lists: list[RankedList], hits_by_id: dict[str, Hit]) -> list[tuple[str, float]]:
        if len(lists) == 1:  # a single list keeps its own scores (cosine or BM25)
            return [(cid, hits_by_id[cid].score) for cid in lists[0].ids]
        active = [r for r in lists if r.weight > 0] or lists
        fused = reciprocal_rank_fusion([r.ids for r in active], [r.weight for r in active], k=self._settings.rrf_k)
        # Lists weighted 0 (dense ranks in a language the embedder does not know) never reorder the
        # others; they only fill in, after them, chunks the others did not find.
        idle = [r for r in lists if r.weight == 0 and r not in active]
        if idle:
            have = {cid for cid, _ in fused}
            tail = reciprocal_rank_fusion([r.ids for r in idle], k=self._settings.rrf_k)
            fused += [(cid, 0.0) for cid, _ in tail if cid not in have]
        return fused
