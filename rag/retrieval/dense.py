"""Dense retrieval: embed the queries (one batch), search FAISS, look the chunks up in the store."""

from __future__ import annotations

from collections.abc import Sequence

from foldrag.indexes.folder import IndexSnapshot
from foldrag.indexes.vector_store import COMPRESSED_KINDS, rescore_exact, search_faiss
from foldrag.core.contracts import Embedder
from foldrag.core.types import Hit


class DenseRetriever:
    name = "dense"

    def __init__(self, snapshot: IndexSnapshot, embedder: Embedder, candidates: int = 200) -> None:
        self._snapshot = snapshot
        self._embedder = embedder
        # A compressed index (IVF-PQ) ranks by approximate codes: take ``candidates`` (at least k) and
        # rank them by their exact vectors from the store.
        self._candidates = candidates if snapshot.manifest.index_kind in COMPRESSED_KINDS else 0

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        vectors = self._embedder.embed(list(queries), query=True)
        scores, ids = search_faiss(self._snapshot.faiss_index, vectors, max(k, self._candidates))
        if self._candidates:
            scores, ids = rescore_exact(self._snapshot.store, vectors, ids, k)
        chunks = self._snapshot.store.by_rowids({int(i) for i in ids.ravel() if i >= 0})
        return [[Hit(chunks[int(r)], float(s)) for r, s in zip(row_ids, row_scores) if r >= 0 and int(r) in chunks]
                for row_ids, row_scores in zip(ids, scores)]
