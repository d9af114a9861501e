"""Keyword retrieval: BM25 over Kiwi/Snowball tokens, chunks scored with their passages."""

from __future__ import annotations

from collections.abc import Sequence

from foldrag.indexes.folder import IndexSnapshot
from foldrag.core.errors import IndexMismatch
from foldrag.core.types import Hit


class KeywordRetriever:
    name = "bm25"

    def __init__(self, snapshot: IndexSnapshot, tokenizer, chunk_weight: float) -> None:
        if snapshot.keyword_index is None:
            raise IndexMismatch("this index has no keyword (BM25) index; run `foldrag ingest` again to build it")
        if snapshot.manifest.tokenizer not in tokenizer.searches:
            raise IndexMismatch(
                f"the keyword index was built with tokenizer {snapshot.manifest.tokenizer!r}, not {tokenizer.id!r}; "
                "run `foldrag ingest` again to rebuild it"
            )
        self._snapshot = snapshot
        self._tokenizer = tokenizer
        self._chunk_weight = chunk_weight

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        return [self._search(query, k) for query in queries]

    def _search(self, query: str, k: int) -> list[Hit]:
        ranked = self._snapshot.keyword_index.search(self._tokenizer(query), k, self._chunk_weight)
        chunks = self._snapshot.store.by_rowids(r for r, _ in ranked)
        return [Hit(chunks[r], s) for r, s in ranked if r in chunks]
