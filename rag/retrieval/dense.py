"""Dense retrieval: embed the queries (one batch), search FAISS, look the chunks up in the store."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from indexes.folder import IndexSnapshot
from indexes.vector_store import COMPRESSED_KINDS, search_faiss
from rag.core.contracts import Embedder
from rag.core.types import Hit


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
            scores, ids = self._exact(vectors, ids, k)
        chunks = self._snapshot.store.by_rowids({int(i) for i in ids.ravel() if i >= 0})
        return [[Hit(chunks[int(r)], float(s)) for r, s in zip(row_ids, row_scores) if r >= 0 and int(r) in chunks]
                for row_ids, row_scores in zip(ids, scores)]

    def _exact(self, queries: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best of each row's candidate ``ids`` by exact inner product with the stored vectors."""
        stored = self._snapshot.store.vectors_by_rowids({int(i) for i in ids.ravel() if i >= 0}, queries.shape[1])
        out_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        out_ids = np.full((len(queries), k), -1, dtype=np.int64)
        for row, (query, candidates) in enumerate(zip(queries, ids)):
            known = [int(i) for i in candidates if int(i) in stored]
            if not known:
                continue
            exact = np.stack([stored[i] for i in known]) @ query
            best = np.argsort(-exact)[:k]
            out_scores[row, :len(best)] = exact[best]
            out_ids[row, :len(best)] = np.asarray(known)[best]
        return out_scores, out_ids
