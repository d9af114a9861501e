"""``Foldrag``: the one object the CLI and the HTTP API talk to.

Example::

    rag = build_rag(Settings.load())
    summary = rag.ingest(Path("examples/docs"))
    hits = rag.search("what is RRF?", k=5)
"""

from __future__ import annotations

import threading
from pathlib import Path

from indexes.folder import IndexSnapshot, IndexWriter, current_generation, open_snapshot
from ingest.pipeline import ingest_folder
from ingest.progress import Progress
from rag.embedders import Embedder
from rag.errors import IndexNotWritable, NotFound
from rag.retrieval.dense import DenseRetriever
from rag.settings import Settings
from rag.types import Hit, IngestSummary


class Foldrag:
    def __init__(self, settings: Settings, embedder_factory) -> None:
        self.settings = settings
        self._embedder_factory = embedder_factory
        self._embedder: Embedder | None = None
        self._snapshot: IndexSnapshot | None = None
        self._lock = threading.Lock()

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = self._embedder_factory()
            return self._embedder

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
        with IndexWriter.open(self.index_path, embedder.name, embedder.dimension, self.settings.index) as writer:
            return ingest_folder(
                folder, writer, embedder, self.settings.ingest,
                embed_headers=self.settings.embedding.embed_headers, progress=progress,
            )

    def snapshot(self) -> IndexSnapshot:
        """The committed index, reopened when a writer has committed a newer generation."""
        with self._lock:
            current = current_generation(self.index_path) if self.index_path.is_dir() else None
            if self._snapshot is None or current is None or current != self._snapshot.path:
                embedder = self._embedder
                fresh = open_snapshot(
                    self.index_path,
                    embedder.name if embedder else None,
                    embedder.dimension if embedder else None,
                )
                if self._snapshot is not None:
                    self._snapshot.close()
                self._snapshot = fresh
            return self._snapshot

    def search(self, query: str, k: int = 5) -> list[Hit]:
        snapshot = self.snapshot()
        embedder = self.embedder
        snapshot.manifest.check(embedder.name, embedder.dimension)
        return DenseRetriever(snapshot, embedder).search(query, k)

    def close(self) -> None:
        if self._snapshot is not None:
            self._snapshot.close()
            self._snapshot = None
