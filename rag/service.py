"""``Foldrag``: the one object the CLI and the HTTP API talk to.

Example::

    rag = build_rag(Settings.load())
    summary = rag.ingest(Path("examples/docs"))
    result = rag.retrieve("what is RRF?", k=5, mode="hybrid")
    for hit in result.hits: print(hit.score, hit.chunk.source)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from indexes.folder import IndexSnapshot, IndexWriter, current_generation, open_snapshot
from ingest.pipeline import ingest_folder
from ingest.progress import Progress
from rag.embedders import Embedder
from rag.errors import IndexNotWritable, NotFound
from rag.generation.base import Generator
from rag.retrieval.hybrid import HybridRetriever, Retrieval
from rag.retrieval.multi_query import QueryRewriter
from rag.settings import Settings
from rag.types import Hit, IngestSummary


class Foldrag:
    """Ingest and retrieval over one index folder. Models load on first use and are kept."""

    def __init__(self, settings: Settings, *, embedder_factory: Callable[[], Embedder],
                 tokenizer, generator_factory: Callable[[], Generator | None] = lambda: None,
                 reranker_factory: Callable[[], object | None] = lambda: None,
                 embedder_languages: tuple[str, ...] = ("*",)) -> None:
        self.settings = settings
        self.tokenizer = tokenizer
        self.embedder_languages = embedder_languages
        self._embedder_factory = embedder_factory
        self._generator_factory = generator_factory
        self._reranker_factory = reranker_factory
        self._embedder: Embedder | None = None
        self._generator: Generator | None = None
        self._generator_loaded = False
        self._reranker = None
        self._reranker_loaded = False
        self._rewriter: QueryRewriter | None = None
        self._snapshot: IndexSnapshot | None = None
        self._lock = threading.RLock()

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = self._embedder_factory()
            return self._embedder

    @property
    def generator(self) -> Generator | None:
        with self._lock:
            if not self._generator_loaded:
                self._generator = self._generator_factory()
                self._generator_loaded = True
            return self._generator

    @property
    def index_path(self) -> Path:
        return self.settings.index.path

    def ingest(self, folder: Path, progress: Progress | None = None) -> IngestSummary:
        # Cheap checks first, so a typo fails in milliseconds rather than after loading a model.
        if not folder.is_dir():
            raise NotFound(f"folder not found: {folder}")
        try:
            self.index_path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise IndexNotWritable(f"cannot write index folder {self.index_path}: {exc.strerror or exc}") from exc
        embedder = self.embedder
        with IndexWriter.open(self.index_path, embedder.name, embedder.dimension, self.settings.index,
                              tokenizer=self.tokenizer) as writer:
            return ingest_folder(
                folder, writer, embedder, self.settings.ingest,
                embed_headers=self.settings.embedding.embed_headers, progress=progress,
            )

    def snapshot(self) -> IndexSnapshot:
        """The committed index, reopened when a writer has committed a newer generation."""
        with self._lock:
            current = current_generation(self.index_path) if self.index_path.is_dir() else None
            if self._snapshot is None or current is None or current != self._snapshot.path:
                fresh = open_snapshot(self.index_path)
                if self._snapshot is not None:
                    self._snapshot.close()
                self._snapshot = fresh
            return self._snapshot

    def retriever(self, mode: str | None = None) -> HybridRetriever:
        snapshot = self.snapshot()
        embedder = self.embedder
        snapshot.manifest.check(embedder.name, embedder.dimension)
        rewriter = None
        if mode == "multi" or (mode is None and self.settings.retrieval.mode in ("auto", "multi")):
            rewriter = self._get_rewriter()
        with self._lock:
            if not self._reranker_loaded:
                self._reranker = self._reranker_factory()
                self._reranker_loaded = True
        return HybridRetriever(snapshot, embedder, self.tokenizer, self.settings.retrieval,
                               rewriter=rewriter, reranker=self._reranker,
                               embedder_languages=self.embedder_languages)

    def _get_rewriter(self) -> QueryRewriter | None:
        generator = self.generator
        with self._lock:
            if generator is not None and self._rewriter is None:
                self._rewriter = QueryRewriter(generator, n=self.settings.retrieval.multi_queries)
            return self._rewriter

    def retrieve(self, query: str, k: int | None = None, mode: str | None = None) -> Retrieval:
        return self.retriever(mode).retrieve(query, k=k, mode=mode)

    def search(self, query: str, k: int = 5, mode: str | None = None) -> list[Hit]:
        return list(self.retrieve(query, k=k, mode=mode).hits)

    def answerer(self):
        """Question answering over this index with the configured generator."""
        from rag.answering import Answerer
        from rag.errors import ModelUnavailable

        generator = self.generator
        if generator is None:
            raise ModelUnavailable("no generation model is configured (generation.model = 'none')")
        return Answerer(self, generator, self.settings.generation, self.tokenizer)

    def close(self) -> None:
        if self._snapshot is not None:
            self._snapshot.close()
            self._snapshot = None
