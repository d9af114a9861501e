"""The retrieval pipeline: (rewrites) → dense and BM25 per query → RRF → (rerank), with a trace."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from indexes.folder import IndexSnapshot
from rag.core.errors import InvalidInput
from rag.retrieval.dense import DenseRetriever
from rag.retrieval.fusion import reciprocal_rank_fusion
from rag.retrieval.keyword import KeywordRetriever
from rag.retrieval.multi_query import QueryRewriter
from rag.retrieval.rerank import CrossEncoderReranker
from rag.core.tokenize import has_hangul
from rag.core.settings import RetrievalSettings
from rag.core.types import Hit

MODES = ("dense", "bm25", "hybrid", "multi")


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


class HybridRetriever:
    """Runs one retrieval in any mode over one index snapshot.

    Example::

        retriever = HybridRetriever(snapshot, embedder, KeywordTokenizer(), settings.retrieval)
        result = retriever.retrieve("RRF란?", k=5, mode="hybrid")
    """

    def __init__(self, snapshot: IndexSnapshot, embedder, tokenizer, settings: RetrievalSettings,
                 *, rewriter: QueryRewriter | None = None, reranker: CrossEncoderReranker | None = None,
                 embedder_languages: tuple[str, ...] = ("*",)) -> None:
        self._dense = DenseRetriever(snapshot, embedder)
        self._keyword = KeywordRetriever(snapshot, tokenizer, settings.keyword_chunk_weight) if snapshot.keyword_index is not None else None
        self._embedder = embedder
        self._settings = settings
        self._rewriter = rewriter
        self._reranker = reranker
        self._languages = embedder_languages

    def default_mode(self) -> str:
        if self._settings.mode != "auto":
            return self._settings.mode
        return "multi" if self._rewriter is not None else "hybrid"

    def dense_weight_for(self, question: str) -> tuple[float, str]:
        """The RRF weight of dense lists for this question, and a note when it was lowered."""
        weight = self._settings.dense_weight
        if has_hangul(question) and not ({"*", "ko"} & set(self._languages)):
            factor = self._settings.foreign_dense_weight
            return weight * factor, (
                f"the embedder knows {list(self._languages)}, not Korean: dense weight x{factor}"
            )
        return weight, ""

    def retrieve(self, question: str, k: int | None = None, mode: str | None = None) -> Retrieval:
        question = question.strip()
        if not question:
            raise InvalidInput("the question is empty")
        mode = mode or self.default_mode()
        if mode not in MODES:
            raise InvalidInput(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        if mode in ("bm25", "hybrid", "multi") and self._keyword is None:
            raise InvalidInput("this index has no BM25 index (built with index.keyword = false); use --mode dense")
        if mode == "multi" and self._rewriter is None:
            raise InvalidInput("mode 'multi' needs a generator for query rewrites; use 'hybrid'")
        k = k or self._settings.k
        timings: dict[str, float] = {}
        notes: list[str] = []
        t_start = time.perf_counter()

        queries: tuple[str, ...] = (question,)
        if mode == "multi":
            t0 = time.perf_counter()
            rewrites = self._rewriter(question)
            timings["rewrite"] = (time.perf_counter() - t0) * 1000
            queries = rewrites.queries
            if rewrites.note:
                notes.append(rewrites.note)

        depth = max(self._settings.candidates, k)
        lists: list[RankedList] = []
        hits_by_id: dict[str, Hit] = {}
        if mode in ("dense", "hybrid", "multi"):
            t0 = time.perf_counter()
            vectors = self._embedder.embed(list(queries), query=True)
            weight, note = self.dense_weight_for(question) if mode != "dense" else (1.0, "")
            if note:
                notes.append(note)
            for query, vector in zip(queries, vectors):
                hits = self._dense.search_vector(vector[None, :], depth)
                hits_by_id.update({h.chunk.id: h for h in hits})
                lists.append(RankedList(query, "dense", weight, tuple(h.chunk.id for h in hits)))
            timings["dense"] = (time.perf_counter() - t0) * 1000
        if mode in ("bm25", "hybrid", "multi"):
            t0 = time.perf_counter()
            for query in queries:
                hits = self._keyword.search(query, depth)
                hits_by_id.update({h.chunk.id: h for h in hits if h.chunk.id not in hits_by_id})
                lists.append(RankedList(query, "bm25", self._settings.keyword_weight, tuple(h.chunk.id for h in hits)))
            timings["bm25"] = (time.perf_counter() - t0) * 1000

        t0 = time.perf_counter()
        if len(lists) == 1:  # a single list keeps its own scores (cosine or BM25)
            fused = [(cid, hits_by_id[cid].score) for cid in lists[0].ids]
        else:
            active = [r for r in lists if r.weight > 0] or lists
            fused = reciprocal_rank_fusion([r.ids for r in active], [r.weight for r in active], k=self._settings.rrf_k)
            # Lists weighted 0 (dense ranks in a language the embedder does not know) never reorder the
            # others; they only fill in, after them, chunks the others did not find.
            idle = [r for r in lists if r.weight == 0 and r not in active]
            if idle:
                have = {cid for cid, _ in fused}
                tail = reciprocal_rank_fusion([r.ids for r in idle], k=self._settings.rrf_k)
                fused += [(cid, 0.0) for cid, _ in tail if cid not in have]
        timings["fusion"] = (time.perf_counter() - t0) * 1000

        hits = [Hit(hits_by_id[cid].chunk, score) for cid, score in fused]
        if self._reranker is not None and hits:
            t0 = time.perf_counter()
            hits = self._reranker.rerank(question, hits[: max(self._settings.rerank_top, k)])
            timings["rerank"] = (time.perf_counter() - t0) * 1000
        timings["total"] = (time.perf_counter() - t_start) * 1000
        trace = Trace(mode=mode, queries=queries, lists=tuple(lists), fused=tuple(fused),
                      timings_ms=timings, notes=tuple(notes))
        return Retrieval(hits=tuple(hits[:k]), trace=trace)
