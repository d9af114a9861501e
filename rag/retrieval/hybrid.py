"""The retrieval pipeline: (rewrites) → every retriever per query → fusion → (rerank), with a trace."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from foldrag.core.contracts import Reranker, Retriever
from foldrag.core.settings import FusionSettings, RetrievalSettings
from foldrag.core.tokenize import has_hangul
from foldrag.core.types import Hit, Signal
from foldrag.retrieval.fusion import Fused, Fusion, Part, Ranked
from foldrag.retrieval.multi_query import Rewrites

MODES = ("dense", "bm25", "hybrid", "multi")


@dataclass(frozen=True)
class RankedList:
    query: str
    retriever: str
    ids: tuple[str, ...]
    scores: tuple[float, ...]


@dataclass(frozen=True)
class Trace:
    mode: str
    queries: tuple[str, ...]
    lists: tuple[RankedList, ...]
    fused: tuple[Fused, ...]  # best first; each with every list's part (ids index ``lists``)
    timings_ms: dict[str, float]
    fusion: str = ""  # the function and weights, in words
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self, top: int = 10) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "fusion": self.fusion,
            "queries": list(self.queries),
            "lists": [{"query": r.query, "retriever": r.retriever, "ids": list(r.ids[:top]),
                       "scores": [round(s, 6) for s in r.scores[:top]]} for r in self.lists],
            "fused": [{"id": f.id, "rank": n, "score": round(f.score, 6),
                       "parts": [{"list": self.lists[p.list].retriever, "query": self.lists[p.list].query,
                                  "rank": p.rank, "raw": round(p.raw, 6), "normalised": round(p.normalised, 6),
                                  "weight": round(p.weight, 6), "contribution": round(p.contribution, 6)}
                                 for p in f.parts]}
                      for n, f in enumerate(self.fused[:top], 1)],
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Retrieval:
    hits: tuple[Hit, ...]
    trace: Trace


@dataclass(frozen=True)
class Weighted:
    """One retriever in the fusion, with the languages it ranks well in: for a question in a
    language it does not know (Korean with the English-only MiniLM), its lists weigh 0 and only
    fill in after the others."""

    retriever: Retriever
    languages: tuple[str, ...] = ("*",)

    def knows(self, question: str) -> bool:
        return not has_hangul(question) or bool({"*", "ko"} & set(self.languages))


def language(text: str) -> str:
    """'ko' for a text with Hangul, else 'en' (any other script): the pairs fusion weighs apart."""
    return "ko" if has_hangul(text) else "en"


def fusion_of(settings: FusionSettings) -> Fusion:
    """The fusion function ``settings`` name."""
    return Fusion(settings.method, settings.normalise, settings.rrf_k)


def described(settings: FusionSettings, question: str | None = None) -> str:
    """The fusion in words with its dense weights: every pair's, or those a ``question`` uses."""
    how = f"convex ({settings.normalise})" if settings.method == "convex" else f"rrf (k={settings.rrf_k:g})"
    pairs = settings.dense.model_dump()
    if question is not None:
        asked = language(question)
        pairs = {f"{asked}_{passage}": weight for passage, weight in pair_weights(settings, question).items()}
    return f"{how}; dense weight " + ", ".join(f"{pair.replace('_', '→')} {weight:g}" for pair, weight in
                                              pairs.items()) + " (BM25: the rest)"


def pair_weights(settings: FusionSettings, question: str) -> dict[str, float]:
    """The dense list's weight for ``question`` over a passage in each language."""
    asked = language(question)
    return {passage: getattr(settings.dense, f"{asked}_{passage}") for passage in ("ko", "en")}


class HybridRetriever:
    """Runs one retrieval over one index snapshot: (rewrites) → every retriever on every query →
    fusion → (rerank). Modes: a retriever's name (its lists alone), 'hybrid' (all of them) and 'multi'
    (all of them on the question and its rewrites). The mode is resolved and checked by the caller.

    Each passage's dense and BM25 scores weigh by the language pair of question and passage
    (``retrieval.fusion.dense``): across languages BM25 matches only the names and numbers both
    texts share. With rewrites, each retriever's weight is shared among the queries.

    Example::

        retriever = HybridRetriever([Weighted(DenseRetriever(snap, emb)), Weighted(KeywordRetriever(...))],
                                    settings.retrieval)
        result = retriever.retrieve("RRF란?", k=5, mode="hybrid")
    """

    def __init__(self, retrievers: Sequence[Weighted], settings: RetrievalSettings, *,
                 rewrite: Callable[[str], Rewrites] | None = None,
                 reranker: Reranker | None = None) -> None:
        self._retrievers = tuple(retrievers)
        self._settings = settings
        self._fusion = dataclasses.replace(fusion_of(settings.fusion), window=settings.candidates)
        self._rewrite = rewrite
        self._reranker = reranker

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
        shares: list[float] = []  # the retriever's weight in the fusion, before the language pair's
        hits_by_id: dict[str, Hit] = {}
        signals: dict[str, dict[str, Signal]] = {}  # chunk id → ranker → its best rank over the queries
        for entry in chosen:
            t0 = time.perf_counter()
            name = entry.retriever.name
            known = entry.knows(question)
            if not known and len(chosen) > 1:
                notes.append(f"the {name} retriever knows {list(entry.languages)}, not Korean: its results only "
                             "fill in after the others")
            for query, hits in zip(queries, entry.retriever.search(queries, depth)):
                for rank, hit in enumerate(hits, start=1):
                    hits_by_id.setdefault(hit.chunk.id, hit)
                    best = signals.setdefault(hit.chunk.id, {}).get(name)
                    if best is None or rank < best.rank:
                        signals[hit.chunk.id][name] = Signal(name, rank, hit.score)
                lists.append(RankedList(query, name, tuple(h.chunk.id for h in hits), tuple(h.score for h in hits)))
                shares.append(1.0 / len(queries) if known else 0.0)
            timings[name] = (time.perf_counter() - t0) * 1000

        t0 = time.perf_counter()
        fused, described = self._fuse(question, lists, shares, hits_by_id)
        timings["fusion"] = (time.perf_counter() - t0) * 1000

        hits = [Hit(hits_by_id[f.id].chunk, f.score,
                    (*signals[f.id].values(), *([Signal("fused", n, f.score)] if len(lists) > 1 else [])))
                for n, f in enumerate(fused, start=1)]
        if self._reranker is not None and hits:
            t0 = time.perf_counter()
            reranked = self._reranker.rerank(question, hits[: max(self._settings.rerank_top, k)])
            hits = [dataclasses.replace(h, signals=(*h.signals, Signal("rerank", n, h.score)))
                    for n, h in enumerate(reranked, start=1)]
            timings["rerank"] = (time.perf_counter() - t0) * 1000
        timings["total"] = (time.perf_counter() - t_start) * 1000
        trace = Trace(mode=mode, queries=queries, lists=tuple(lists), fused=tuple(fused),
                      timings_ms=timings, fusion=described, notes=tuple(notes))
        return Retrieval(hits=tuple(hits[:k]), trace=trace)

    def _fuse(self, question: str, lists: list[RankedList], shares: list[float],
              hits_by_id: dict[str, Hit]) -> tuple[list[Fused], str]:
        """The lists fused, and the fusion in words. One list keeps its own scores (cosine or BM25)."""
        if len(lists) == 1:
            only = lists[0]
            return [Fused(cid, score, (Part(0, rank, score, score, 1.0, score),))
                    for rank, (cid, score) in enumerate(zip(only.ids, only.scores), start=1)], ""
        dense = pair_weights(self._settings.fusion, question)
        languages: dict[str, str] = {}

        def passage_language(cid: str) -> str:
            if cid not in languages:
                languages[cid] = language(hits_by_id[cid].chunk.text)
            return languages[cid]

        def weight(retriever: str, share: float) -> Callable[[str], float]:
            if retriever == "dense":
                return lambda cid: share * dense[passage_language(cid)]
            return lambda cid: share * (1.0 - dense[passage_language(cid)])

        weights = [weight(r.retriever, share) for r, share in zip(lists, shares)]
        fused = self._fusion([Ranked(r.ids, r.scores) for r in lists], weights)
        idle = {n for n, share in enumerate(shares) if share == 0}
        if idle and len(idle) < len(shares):
            # A retriever that does not know the question's language never reorders the others.
            found = [f for f in fused if any(p.list not in idle for p in f.parts)]
            fused = found + [f for f in fused if all(p.list in idle for p in f.parts)]
        return fused, described(self._settings.fusion, question)
