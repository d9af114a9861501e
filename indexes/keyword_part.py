"""The keywords part: BM25 over chunks and over passages (neighbouring chunks under one heading),
in ``bm25/``. Both levels are one part: a chunk's keyword score needs both (``KeywordIndex.search``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from foldrag.indexes.chunk_store import ChunkStore
from foldrag.indexes.keyword_store import build_keyword_index, load_keyword_index
from foldrag.indexes.manifest import Manifest
from foldrag.core.settings import IndexSettings
from foldrag.core.tokenize import tokenize_chunks


class KeywordPart:
    name = "keywords"

    def __init__(self, settings: IndexSettings, tokenizer) -> None:
        self.settings = settings
        self.tokenizer = tokenizer  # callable text → tokens, with an ``id``

    @classmethod
    def for_settings(cls, settings: IndexSettings, *, dimension: int = 0, tokenizer=None) -> "KeywordPart | None":
        return cls(settings, tokenizer) if settings.keyword and tokenizer is not None else None

    def manifest_entry(self, chunks: int) -> dict[str, Any]:
        return {"tokenizer": self.tokenizer.id, "passages": self.settings.bm25_passage_chunks}

    def build(self, folder: Path, store: ChunkStore, entry: dict[str, Any], previous: Path | None = None) -> None:
        missing = store.untokenized()
        store.set_tokens(list(zip((c.id for c in missing), tokenize_chunks(self.tokenizer, missing))))
        rowids, corpus = store.tokens()
        passages = None
        if entry["passages"]:
            from foldrag.indexes.passages import tokenize_passages

            passages = tokenize_passages(store, self.tokenizer, entry["passages"])
        build_keyword_index(folder, rowids, corpus, self.settings.bm25_k1, self.settings.bm25_b, passages)
        store.commit()

    @staticmethod
    def load(folder: Path, manifest: Manifest):
        return load_keyword_index(folder)
