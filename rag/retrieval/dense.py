"""Dense retrieval: embed the query, search FAISS, look the chunks up in the store."""

from __future__ import annotations

from indexes.folder import IndexSnapshot
from indexes.vector_store import search_faiss
from rag.core.contracts import Embedder
from rag.core.types import Hit


class DenseRetriever:
    name = "dense"

    def __init__(self, snapshot: IndexSnapshot, embedder: Embedder) -> None:
        self._snapshot = snapshot
        self._embedder = embedder

    def search(self, query: str, k: int) -> list[Hit]:
        vector = self._embedder.embed([query], query=True)
        return self.search_vector(vector, k)

    def search_vector(self, vector, k: int) -> list[Hit]:
        scores, ids = search_faiss(self._snapshot.faiss_index, vector, k)
        rows = [int(i) for i in ids[0] if i >= 0]
        chunks = self._snapshot.store.by_rowids(rows)
        return [Hit(chunks[r], float(s)) for r, s in zip(ids[0], scores[0]) if r >= 0 and int(r) in chunks]
