"""``Foldrag``: the one object the CLI and the HTTP API talk to.

Example::

    rag = build_rag(Settings.load())
    summary = rag.ingest(Path("examples/docs"))
    result = rag.retrieve("what is RRF?", k=5, mode="hybrid")
    for hit in result.hits: print(hit.score, hit.chunk.source)
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foldrag.indexes.folder import CURRENT, IndexSnapshot, IndexWriter, current_generation, newest_manifest, open_snapshot
from foldrag.indexes.chunk_store import FileRecord
from foldrag.ingest.errors import ParseError
from foldrag.ingest.pipeline import UPLOAD_SCHEME, ingest_document, ingest_folder
from foldrag.ingest.progress import Progress
from foldrag.ingest.vector_check import check_runtime
from foldrag.core.contracts import Embedder
from foldrag.core.errors import IndexCorrupt, IndexNotWritable, InvalidInput, ModelUnavailable, NotFound
from foldrag.core.contracts import Generator
from foldrag.core.lazy import Once
from foldrag.answering import Answerer, Retrieve
from foldrag.retrieval.dense import DenseRetriever
from foldrag.retrieval.hybrid import MODES, HybridRetriever, Retrieval, Weighted
from foldrag.retrieval.keyword import KeywordRetriever
from foldrag.retrieval.multi_query import QueryRewriter, Rewrites
from foldrag.core.settings import Settings
from foldrag.core.tokenize import has_hangul
from foldrag.core.types import Hit, IngestSummary


@dataclass(frozen=True)
class Document:
    """One file of the index: from an ingested folder (a relative path) or uploaded (``upload://name``)."""

    id: str
    source: str
    chunks: int
    size: int
    sha256: str

    @classmethod
    def from_record(cls, record: FileRecord) -> "Document":
        return cls(id=document_id(record.source), source=record.source, chunks=record.chunks,
                   size=record.size, sha256=record.sha256)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "source": self.source, "chunks": self.chunks, "size": self.size,
                "sha256": self.sha256, "uploaded": self.source.startswith(UPLOAD_SCHEME)}


def document_id(source: str) -> str:
    """A stable, URL-safe id for a document: the first 16 hex digits of the SHA-256 of its source."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


class Foldrag:
    """Ingest and retrieval over one index folder. Models load on first use and are kept."""

    def __init__(self, settings: Settings, *, embedder_factory: Callable[[], Embedder],
                 tokenizer, generator_factory: Callable[[], Generator | None] = lambda: None,
                 reranker_factory: Callable[[], object | None] = lambda: None,
                 embedder_languages: tuple[str, ...] = ("*",)) -> None:
        self.settings = settings
        self.tokenizer = tokenizer
        self.embedder_languages = embedder_languages
        self._embedder = Once(embedder_factory)
        self._generator = Once(generator_factory)
        self._reranker = Once(reranker_factory)
        self._rewriter: QueryRewriter | None = None
        self._snapshot: IndexSnapshot | None = None
        self._snapshot_key: tuple[int, int, int] | None = None
        self._retriever: tuple[IndexSnapshot, HybridRetriever] | None = None
        self._lock = threading.Lock()

    @property
    def embedder(self) -> Embedder:
        return self._embedder()

    @property
    def generator(self) -> Generator | None:
        return self._generator()

    @property
    def index_path(self) -> Path:
        return self.settings.index.path

    def ingest(self, folder: Path, progress: Progress | None = None,
               within: tuple[Path, ...] | None = None) -> IngestSummary:
        """Bring the index in step with ``folder`` (uploaded documents stay). See ``ingest_folder``."""
        # Cheap checks first, so a typo fails in milliseconds rather than after loading a model.
        if not folder.is_dir():
            raise NotFound(f"folder not found: {folder}")
        with self._open_writer() as writer:
            return ingest_folder(
                folder, writer, self.embedder, self.settings.ingest,
                embed_headers=self.settings.embedding.embed_headers, progress=progress, within=within,
            )

    def _open_writer(self) -> IndexWriter:
        try:
            self.index_path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise IndexNotWritable(f"cannot write index folder {self.index_path}: {exc.strerror or exc}") from exc
        IndexWriter.check_free(self.index_path)  # a busy index is refused before the embedder loads
        embedder = self.embedder
        writer = IndexWriter.open(self.index_path, embedder.name, embedder.dimension, self.settings.index,
                                  tokenizer=self.tokenizer, backend=embedder.backend)
        try:
            check_runtime(writer, embedder, self.settings.embedding.embed_headers)
        except BaseException:
            writer.close()
            raise
        return writer

    def add_document(self, name: str, data: bytes) -> Document:
        """Index one uploaded file as ``upload://NAME`` (replacing an upload of the same name).

        Raises InvalidInput when the file cannot be parsed or holds no text.
        """
        source = UPLOAD_SCHEME + name
        with self._open_writer() as writer:
            try:
                record = ingest_document(source, data, writer, self.embedder, self.settings.ingest,
                                         embed_headers=self.settings.embedding.embed_headers)
            except ParseError as exc:
                raise InvalidInput(f"cannot read {name}: {exc}") from exc
        return Document.from_record(record)

    def check_index(self, repair: bool = False) -> dict[str, Any]:
        """What is wrong with the committed index, every file checked against its recorded checksum
        and every part loaded; with ``repair``, a new generation rebuilt from the newest intact chunk
        store (no model is loaded: vectors and keyword tokens are in the store). Raises NotFound
        without an index, IndexCorrupt when nothing can be read to repair from."""
        root = self.index_path
        current = current_generation(root, complete=False) if root.is_dir() else None
        if current is None:
            raise NotFound(f"no index at {root}")
        manifest = newest_manifest(root)
        if manifest is None:
            raise IndexCorrupt(f"no generation of {root} has a readable manifest; ingest into a new --index folder")
        report: dict[str, Any] = {"index": str(root), "generation": current.name, "ok": False, "damage": [],
                                  "repaired": False}
        with IndexWriter.open(root, manifest.embedder, manifest.dimension, self.settings.index,
                              tokenizer=self.tokenizer, backend=manifest.embedder_backend) as writer:
            report["damage"] = list(writer.damage)
            if not writer.damage:
                try:
                    open_snapshot(root).close()
                except (IndexCorrupt, OSError) as exc:
                    report["damage"].append(str(exc))
            report["ok"] = not report["damage"]
            if not manifest.checksums:
                report["note"] = "written before foldrag recorded checksums: --repair (or an ingest) records them"
            if (report["ok"] and manifest.checksums) or not repair:
                return report
            if writer.base is None:
                raise IndexCorrupt(f"no intact chunk store in {root} to repair from: ingest the folder again "
                                   "(every file is read and embedded again)")
            if writer.base != current:
                report["restored_from"] = writer.base.name
                report["note"] = (f"the chunk store of {current.name} is damaged; {writer.base.name}'s was taken: "
                                  "ingest the folder again to bring back what changed since")
            writer.store  # the new generation starts from the intact store; commit rebuilds every part
            report["repaired"] = writer.commit().generation
        with self._lock:
            self._snapshot = None
        return report

    def warm_up(self) -> None:
        """Load what a first question on this index would, beyond the shared models: the index, and
        the Korean morphological analyzer when it holds Korean words (Kiwi takes ~2 s to load; an
        English-only index never loads it). Raises as a search would (a damaged index)."""
        if not self.has_index():
            return
        keywords = self.snapshot().keyword_index
        if keywords is not None and any(has_hangul(token) for token in keywords.vocab):
            self.tokenizer("준비")

    def has_index(self) -> bool:
        """Whether a generation has been committed (an ingest has finished)."""
        return self.index_path.is_dir() and current_generation(self.index_path) is not None

    def describe(self, name: str) -> dict[str, Any]:
        """What a collection listing shows: its folder and, once built, what the index holds."""
        info: dict[str, Any] = {"name": name, "path": str(self.index_path), "indexed": False,
                                "documents": 0, "chunks": 0, "embedder": self.settings.embedding.model}
        if self.has_index():
            manifest = self.snapshot().manifest
            info.update(indexed=True, documents=manifest.files, chunks=manifest.chunks,
                        embedder=manifest.embedder, updated_at=manifest.updated_at)
        return info

    def documents(self) -> list[Document]:
        """The documents of the committed index, by source."""
        if not self.has_index():
            return []
        files = self.snapshot().store.files()
        return [Document.from_record(files[source]) for source in sorted(files)]

    def remove_document(self, doc_id: str) -> Document:
        """Remove a document and its chunks. A file of an ingested folder returns at that folder's
        next ingest unless it is deleted there too. Raises NotFound for an unknown id."""
        match = next((d for d in self.documents() if d.id == doc_id), None)
        if match is None:
            raise NotFound(f"no document with id {doc_id!r}")
        with self._open_writer() as writer:
            writer.store.remove_file(match.source)
            writer.commit()
        return match

    def snapshot(self) -> IndexSnapshot:
        """The committed index, reopened when a writer has committed a newer generation (seen by a
        stat of ``CURRENT``, which a commit replaces; nothing is read while it stays the same)."""
        try:
            st = os.stat(self.index_path / CURRENT)
            key = (st.st_ino, st.st_mtime_ns, st.st_size)
        except OSError:
            key = None
        with self._lock:
            if self._snapshot is None or key is None or key != self._snapshot_key:
                # The old snapshot is not closed here: a retrieval on another thread may still hold
                # it. Its SQLite handle closes when the last reference goes.
                self._snapshot = open_snapshot(self.index_path)
                self._snapshot_key = key
            return self._snapshot

    # -- questions: check once at the edge, then trust

    def check(self, text: str, *, what: str = "question", mode: str | None = None) -> tuple[str, str]:
        """The question stripped and the retrieval mode resolved ('auto': hybrid). Raises InvalidInput for an empty text, an unknown mode, or 'multi' without a generator."""
        text = text.strip()
        if not text:
            raise InvalidInput(f"the {what} is empty")
        return text, self.resolve_mode(mode)

    def resolve_mode(self, mode: str | None) -> str:
        mode = mode or self.settings.retrieval.mode
        if mode == "auto":  # measured: rewrites by the models that run here cost recall (docs/BENCHMARKS.md)
            return "hybrid"
        if mode not in MODES:
            raise InvalidInput(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        if mode == "multi" and self.generator is None:
            raise InvalidInput("mode 'multi' needs a generator for query rewrites; use 'hybrid'")
        return mode

    def retrieve(self, query: str, k: int | None = None, mode: str | None = None) -> Retrieval:
        """Rank the chunks for ``query`` (checked here: this is the Python API's edge)."""
        query, mode = self.check(query, what="query", mode=mode)
        return self.retrieve_checked(query, k, mode)

    def retrieve_checked(self, query: str, k: int | None, mode: str | None) -> Retrieval:
        """``retrieve`` for a query already checked (``check``); None picks the configured k and mode."""
        mode = mode or self.resolve_mode(None)
        retriever = self.retriever()
        if mode != "dense" and "bm25" not in retriever.names:
            raise InvalidInput("this index has no BM25 index (built with index.keyword = false); use --mode dense")
        return retriever.retrieve(query, k or self.settings.retrieval.k, mode)

    def search(self, query: str, k: int = 5, mode: str | None = None) -> list[Hit]:
        return list(self.retrieve(query, k=k, mode=mode).hits)

    def retriever(self) -> HybridRetriever:
        """The retriever of the current snapshot, built once per snapshot."""
        snapshot = self.snapshot()
        cached = self._retriever
        if cached is not None and cached[0] is snapshot:
            return cached[1]
        embedder = self.embedder
        snapshot.manifest.check(embedder.name, embedder.dimension)
        cfg = self.settings.retrieval
        dense = DenseRetriever(snapshot, embedder, self.settings.index.pq_candidates)
        parts = [Weighted(dense, cfg.dense_weight, self.embedder_languages, cfg.foreign_dense_weight)]
        if snapshot.keyword_index is not None:
            parts.append(Weighted(KeywordRetriever(snapshot, self.tokenizer, cfg.keyword_chunk_weight), cfg.keyword_weight))
        retriever = HybridRetriever(parts, cfg, rewrite=self._rewrite, reranker=self._reranker())
        self._retriever = (snapshot, retriever)
        return retriever

    def _rewrite(self, question: str) -> Rewrites:
        generator = self.generator
        assert generator is not None, "mode 'multi' is checked against the generator first"
        with self._lock:
            if self._rewriter is None:
                self._rewriter = QueryRewriter(generator, n=self.settings.retrieval.multi_queries)
        return self._rewriter(question)

    def answerer(self, retrieve: Retrieve | None = None) -> Answerer:
        """Question answering over this index with the configured generator (none is loaded when
        ``generation.mode`` is 'quote'). Its questions are trusted: check them first (``check``), as
        the CLI and the HTTP routes do. ``retrieve`` replaces this index's retrieval (the answer eval
        uses it to hide a question's own paragraph)."""
        quoting = self.settings.generation.mode == "quote"
        generator = None if quoting else self.generator
        if generator is None and not quoting:
            raise ModelUnavailable("no generation model is configured (generation.model = 'none'); "
                                   "set generation.mode = 'quote' for answers quoted from the sources")
        reranker = self._reranker()
        return Answerer(retrieve or self.retrieve_checked, generator, self.settings.generation, self.tokenizer,
                        scorer=reranker.score if reranker is not None else None)

    def close(self) -> None:
        if self._snapshot is not None:
            self._snapshot.close()
            self._snapshot = None

