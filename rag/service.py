"""``Foldrag``: one collection — an index folder — and everything a user does with it.

The CLI, the HTTP API and a Python program talk to this object only. It is a facade over parts with
one job each (``rag/collection/``: snapshots, documents, writing, check), the retriever and the
answerer the builder made, and the answer stages (``foldrag/answering/``). A question is checked
once, by ``prepare``; what follows never calls back here.

Example::

    import foldrag

    rag = foldrag.open("~/.local/share/foldrag/index")
    rag.ingest("examples/docs")
    for hit in rag.search("what is RRF?", k=3):
        print(hit.score, hit.chunk.source)
    answer = rag.ask("RRF는 무엇을 하나요?")
    print(answer.answer, [c.source for c in answer.citations])
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from foldrag.answering import stages
from foldrag.answering.answerer import Answerer
from foldrag.answering.events import Answer, AnswerEvent
from foldrag.answering.question import Question, Turn
from foldrag.collection.check import CheckReport, check_index
from foldrag.collection.documents import Document, documents_of
from foldrag.collection.originals import Originals
from foldrag.collection.sources import PageImages, Passage, document_text, passage, source_document, source_of
from foldrag.collection.snapshots import Snapshots
from foldrag.collection.writing import check_writable, disk_space, open_writer
from foldrag.core.contracts import Embedder, Generator, KeywordTokenizer
from foldrag.core.errors import InvalidInput, NotFound
from foldrag.core.settings import Settings
from foldrag.core.tokenize import has_hangul
from foldrag.core.types import Hit, IngestSummary
from foldrag.indexes.folder import IndexSnapshot, IndexWriter
from foldrag.ingest.errors import ParseError
from foldrag.ingest.pipeline import UPLOAD_SCHEME, ingest_document, ingest_documents, ingest_folder
from foldrag.ingest.progress import Progress
from foldrag.retrieval.hybrid import MODES, HybridRetriever, Retrieval

HistoryLike = Sequence[Mapping[str, str] | Turn]


class Foldrag:
    """One collection: ingest, search and answers over the index folder ``settings.index.path``.

    Built by ``foldrag.build`` (or ``foldrag.open``); models load on first use and are shared with
    the other collections of the process.
    """

    def __init__(self, settings: Settings, *, tokenizer: KeywordTokenizer, embedder: Callable[[], Embedder],
                 generator: Callable[[], Generator | None], retriever_for: Callable[[IndexSnapshot], HybridRetriever],
                 answerer: Callable[[], Answerer]) -> None:
        self.settings = settings
        self.tokenizer = tokenizer
        self._embedder = embedder  # the builder's factories: each builds once, shared by the collections
        self._generator = generator
        self._retriever_for = retriever_for
        self._answerer = answerer
        self._snapshots = Snapshots(settings.index.path)
        self._originals = Originals(settings.index.path)
        self._pages = PageImages()
        self._retriever: tuple[IndexSnapshot, HybridRetriever] | None = None

    @property
    def index_path(self) -> Path:
        return self.settings.index.path

    # -- models: loaded by explicit calls, kept

    def load_embedder(self) -> Embedder:
        """The embedder, built on the first call."""
        return self._embedder()

    def load_generator(self) -> Generator | None:
        """The answering model, loaded on the first call (None when ``generation.model`` is 'none' or
        the collection was built without one)."""
        return self._generator()

    def answerer(self) -> Answerer:
        """What runs the answer stages; loads the answering model on the first call. Raises
        ModelUnavailable when answers need a model and none is configured."""
        return self._answerer()

    # -- the index and its documents

    def has_index(self) -> bool:
        """Whether a generation has been committed (an ingest has finished)."""
        return self._snapshots.exists()

    def snapshot(self) -> IndexSnapshot:
        """The committed index (NotFound without one), reopened when a newer generation is committed."""
        return self._snapshots.current()

    def ingest(self, folder: str | os.PathLike[str], progress: Progress | None = None,
               within: tuple[Path, ...] | None = None, reembed: bool = False) -> IngestSummary:
        """Bring the index in step with ``folder`` (uploaded documents stay). See ``ingest_folder``.
        ``reembed``: build the index anew with this collection's embedder (another model than the one
        it was built with): every file is read, chunked and embedded again and replaces the old index
        when it commits (until then the old one is served); kept uploads follow in a second commit.
        Raises NotFound for a missing folder (before any model loads), NoSpace when the disk fills."""
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            raise NotFound(f"folder not found: {folder}")
        with self._writing(fresh=reembed) as writer:
            summary = ingest_folder(folder, writer, self.load_embedder(), self.settings.ingest,
                                    embed_headers=self.settings.embedding.embed_headers, progress=progress,
                                    within=within)
        self._originals.record_ingest(folder, summary)
        uploads = self._originals.uploads() if reembed else []
        if uploads:
            self.add_uploads(uploads, progress=progress)
        return summary

    def add_document(self, name: str, data: bytes) -> Document:
        """Index one uploaded file as ``upload://NAME`` (replacing an upload of the same name); the
        file is kept to be shown. Raises InvalidInput when it cannot be parsed or holds no text."""
        with self._writing() as writer:
            try:
                record = ingest_document(UPLOAD_SCHEME + name, data, writer, self.load_embedder(),
                                         self.settings.ingest, embed_headers=self.settings.embedding.embed_headers)
            except ParseError as exc:
                raise InvalidInput(f"cannot read {name}: {exc}") from exc
        self._originals.keep_upload(name, data)
        return Document.from_record(record)

    def keep_uploads(self, files: Sequence[tuple[str, bytes]]) -> None:
        """Keep uploaded files (plain names) for ``add_uploads``."""
        for name, data in files:
            self._originals.keep_upload(name, data)

    def add_uploads(self, names: Sequence[str], progress: Progress | None = None) -> IngestSummary:
        """Index kept uploads (``keep_uploads``) as ``upload://NAME``, in one commit, with progress; a
        file that cannot be read is skipped with its reason and the others land."""
        paths = [(UPLOAD_SCHEME + name, self._originals.path_of(UPLOAD_SCHEME + name)) for name in names]
        with self._writing() as writer:
            summary = ingest_documents([(s, p) for s, p in paths if p is not None], writer, self.load_embedder(),
                                       self.settings.ingest, embed_headers=self.settings.embedding.embed_headers,
                                       progress=progress)
        for failure in summary.failed:  # a file that could not be read is not kept either
            self._originals.forget(failure.path)
        return summary

    def documents(self) -> list[Document]:
        """The documents of the committed index, by source."""
        return documents_of(self.snapshot().store.files()) if self.has_index() else []

    def remove(self, doc_id: str) -> Document:
        """Remove a document and its chunks. A file of an ingested folder returns at that folder's
        next ingest unless it is deleted there too. Raises NotFound for an unknown id."""
        match = next((d for d in self.documents() if d.id == doc_id), None)
        if match is None:
            raise NotFound(f"no document with id {doc_id!r}")
        with self._writing() as writer:
            writer.begin().remove_file(match.source)
            writer.commit()
        self._originals.forget(match.source)
        return match

    # -- sources: what a viewer shows of a citation

    def passage(self, chunk_id: str) -> Passage:
        """A chunk with its stored places, and its document's state (NotFound when not indexed)."""
        return passage(self.snapshot().store, self._originals, chunk_id)

    def document_text(self, doc_id: str) -> dict[str, Any]:
        """A document's text as indexed, by section, with its chunks' offsets."""
        return document_text(self.snapshot().store, self._originals, doc_id)

    def page_image(self, doc_id: str, page: int, width: int) -> bytes:
        """A PDF page as PNG, ``width`` pixels wide; NotFound unless the original is the indexed PDF."""
        store = self.snapshot().store
        doc = source_document(store, self._originals, source_of(store, doc_id))
        if doc.view != "page" or doc.original.path is None:
            raise NotFound(f"{doc.document.source} cannot be shown as pages ({doc.original.status})")
        return self._pages.png(doc.original.path, doc.document.sha256, page, width)

    def inventory(self) -> dict[str, Any]:
        """The documents with their OCR'd pages, the files the last ingest skipped with reasons."""
        ocr = self.snapshot().store.ocr_pages() if self.has_index() else {}
        last = self._originals.last_ingest() or {}
        return {"documents": [dict(d.to_json(), ocr_pages=ocr.get(d.source, 0)) for d in self.documents()],
                "skipped": (last.get("summary") or {}).get("failed", []), "folder": last.get("folder"),
                "last_ingest": last.get("finished")}

    def check_writable(self) -> None:
        """IndexBusy while another writer (an ingest, an upload) holds the index; IndexNotWritable
        when its folder cannot be written."""
        check_writable(self.index_path)

    @contextmanager
    def _writing(self, fresh: bool = False) -> Iterator[IndexWriter]:
        """The index's writer; a full disk ends in NoSpace once the writer has removed its
        half-written generation."""
        check_writable(self.index_path)  # a busy index is refused before the embedder loads
        with disk_space(self.index_path), open_writer(self.index_path, self.load_embedder(), self.settings,
                                                      self.tokenizer, fresh) as writer:
            yield writer

    def check_index(self, repair: bool = False) -> CheckReport:
        """See ``foldrag.collection.check.check_index``."""
        report = check_index(self.index_path, self.settings.index, self.tokenizer, repair=repair)
        if report.repaired:
            self._snapshots.forget()
        return report

    def describe(self, name: str) -> dict[str, Any]:
        """What a collection listing shows: its folder and, once built, what the index holds."""
        from foldrag.generation.backends import resolve_backend, resolve_model

        gen = self.settings.generation
        answering = {"model": "none", "backend": "extractive", "mode": "quote"} if gen.model.lower() == "none" else \
            {"model": Path(resolve_model(gen)).name, "backend": resolve_backend(gen), "mode": gen.mode}
        info: dict[str, Any] = {"name": name, "path": str(self.index_path), "indexed": False,
                                "documents": 0, "chunks": 0, "embedder": self.settings.embedding.model,
                                "answering": answering}
        if self.has_index():
            manifest = self.snapshot().manifest
            info.update(indexed=True, documents=manifest.files, chunks=manifest.chunks,
                        embedder=manifest.embedder, updated_at=manifest.updated_at)
        return info

    def warm_up(self) -> None:
        """Load what a first question on this index would, beyond the shared models: the index, and
        the Korean morphological analyzer when it holds Korean words (Kiwi takes ~2 s to load; an
        English-only index never loads it). Raises as a search would (a damaged index)."""
        if not self.has_index():
            return
        keywords = self.snapshot().keyword_index
        if keywords is not None and any(has_hangul(token) for token in keywords.vocab):
            self.tokenizer("준비")

    # -- questions: checked once, here

    def prepare(self, text: str, *, mode: str | None = None, k: int | None = None, history: HistoryLike = (),
                what: str = "question") -> Question:
        """``text`` checked and made a ``Question`` on the current snapshot: stripped (InvalidInput
        when empty), its mode resolved ('auto' is hybrid, or dense on an index without BM25; InvalidInput
        for an unknown mode, 'multi' without a model, or a keyword mode on an index without BM25), k defaulted, the index opened
        (NotFound without one) and its retriever built (IndexMismatch for another embedder's index)."""
        text = text.strip()
        if not text:
            raise InvalidInput(f"the {what} is empty")
        asked = mode or self.settings.retrieval.mode
        mode = self.resolve_mode(mode)
        snapshot = self.snapshot()
        retriever = self._retriever_of(snapshot)
        if asked == "auto" and "bm25" not in retriever.names:
            mode = "dense"  # an index built without BM25: 'auto' is what it has
        elif mode != "dense" and "bm25" not in retriever.names:
            raise InvalidInput("this index has no BM25 index (built with index.keyword = false); use --mode dense")
        turns = tuple(t if isinstance(t, Turn) else Turn(t["role"], t["content"]) for t in history)
        return Question(text=text, mode=mode, k=k or self.settings.retrieval.k, history=turns,
                        snapshot=snapshot, retriever=retriever, embedder=self.load_embedder())

    def resolve_mode(self, mode: str | None) -> str:
        """The retrieval mode a question runs in: ``mode`` or the configured one, 'auto' resolved."""
        mode = mode or self.settings.retrieval.mode
        if mode == "auto":  # measured: rewrites by the models that run here cost recall; fusion weighs
            return "hybrid"  # each language pair as measured, a member alone where it was best (docs/BENCHMARKS.md)
        if mode not in MODES:
            raise InvalidInput(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        if mode == "multi" and self.load_generator() is None:
            raise InvalidInput("mode 'multi' needs a generator for query rewrites; use 'hybrid'")
        return mode

    def _retriever_of(self, snapshot: IndexSnapshot) -> HybridRetriever:
        cached = self._retriever
        if cached is not None and cached[0] is snapshot:
            return cached[1]
        retriever = self._retriever_for(snapshot)
        self._retriever = (snapshot, retriever)
        return retriever

    def retrieve(self, query: str | Question, k: int | None = None, mode: str | None = None) -> Retrieval:
        """The ranked chunks for ``query`` (a text is prepared first, with ``k`` and ``mode``; a
        prepared question runs as it is), with the retrieval's trace."""
        question = query if isinstance(query, Question) else self.prepare(query, mode=mode, k=k, what="query")
        return stages.retrieve(question, question.text)

    def search(self, query: str, k: int = 5, mode: str | None = None) -> list[Hit]:
        """The ``k`` chunks that best match ``query``, best first."""
        return list(self.retrieve(query, k, mode).hits)

    def ask(self, question: str, *, history: HistoryLike = (), k: int | None = None, mode: str | None = None) -> Answer:
        """The grounded answer to ``question``, with its citations, timings and stages."""
        prepared = self.prepare(question, mode=mode, k=k, history=history)
        return self.answerer().ask(prepared)

    def stream(self, question: str, *, history: HistoryLike = (), k: int | None = None,
               mode: str | None = None) -> Iterator[AnswerEvent]:
        """The answer to ``question`` as events (status, queries, sources, tokens, done); checked
        before the first event. Closing the iterator stops the generation."""
        prepared = self.prepare(question, mode=mode, k=k, history=history)
        return self.answerer().stream(prepared)

    def close(self) -> None:
        self._snapshots.close()
