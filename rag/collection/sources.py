"""What a source view shows of a cited chunk: the chunk with its stored places, its document and
whether the original is still the indexed file, the document's text as indexed, and its pages as
images rendered by pdfium (the engine whose character boxes the places come from).
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foldrag.collection.documents import Document, document_id
from foldrag.collection.originals import Original, Originals
from foldrag.core.errors import InvalidInput, NotFound
from foldrag.core.types import Chunk
from foldrag.indexes.chunk_store import ChunkStore

PAGE_KINDS = frozenset({".pdf"})  # files whose pages a viewer shows as images
MAX_RENDER_PX = 2400  # the widest page image rendered


@dataclass(frozen=True)
class SourceDocument:
    document: Document
    original: Original
    pages: int  # pages of a PDF as indexed (0 for a text document)

    @property
    def view(self) -> str:
        """'page' when the pages can be shown as images (the original is the indexed PDF), else 'text'."""
        return "page" if self.pages and self.original.status == "same" else "text"

    def to_json(self) -> dict[str, Any]:
        return dict(self.document.to_json(), status=self.original.status, pages=self.pages, view=self.view)


@dataclass(frozen=True)
class Passage:
    chunk: Chunk
    source: SourceDocument

    def to_json(self) -> dict[str, Any]:
        c = self.chunk
        return {"id": c.id, "text": c.text, "source": c.source, "page": c.page, "start": c.start, "end": c.end,
                "ocr": c.ocr, "heading": c.heading, "spans": [s.to_json() for s in c.spans],
                "document": self.source.to_json()}


def source_document(store: ChunkStore, originals: Originals, source: str) -> SourceDocument:
    record = store.file(source)
    if record is None:
        raise NotFound(f"no document {source!r} in this index")
    pages = store.last_page(source) if Path(source).suffix.lower() in PAGE_KINDS else 0
    return SourceDocument(Document.from_record(record), originals.original(record), pages)


def passage(store: ChunkStore, originals: Originals, chunk_id: str) -> Passage:
    chunk = store.by_id(chunk_id)
    if chunk is None:
        raise NotFound(f"no passage with id {chunk_id!r} in this index (re-ingested since?)")
    return Passage(chunk, source_document(store, originals, chunk.source))


def source_of(store: ChunkStore, doc_id: str) -> str:
    match = next((source for source in store.files() if document_id(source) == doc_id), None)
    if match is None:
        raise NotFound(f"no document with id {doc_id!r}")
    return match


def document_text(store: ChunkStore, originals: Originals, doc_id: str) -> dict[str, Any]:
    """The document's text as indexed, section by section (a run of PDF pages, a slide, a sheet, a
    file), rebuilt from its chunks in reading order, with where each chunk is in it.

    A chunk continues the section before it when it starts past the end of the previous chunk
    (a heading between them was not a chunk), or overlaps it by exactly the text they share (the
    splitter's overlap); otherwise it starts a new section."""
    source = source_of(store, doc_id)
    sections: list[dict[str, Any]] = []
    placed: list[dict[str, Any]] = []
    last = None
    for c in store.chunks_of(source):
        overlap = last.end - c.start if last is not None else 0
        if last is not None and c.start >= last.end:  # a gap: a heading or blank lines not chunked
            sections[-1]["text"] += "\n\n"
            overlap = 0
        elif not (last is not None and c.start >= last.start and 0 < overlap <= len(c.text)
                  and last.text.endswith(c.text[:overlap])):
            sections.append({"page": c.page, "text": ""})
            overlap = 0
        section = sections[-1]
        at = len(section["text"]) - overlap
        section["text"] = section["text"][:at] + c.text
        placed.append({"id": c.id, "section": len(sections) - 1, "page": c.page, "start": at, "end": at + len(c.text)})
        last = c
    return {"document": source_document(store, originals, source).to_json(), "sections": sections, "chunks": placed}


class PageImages:
    """PNG images of PDF pages, rendered by pdfium, the most recent kept (``limit_bytes`` in all)."""

    def __init__(self, limit_bytes: int = 64 << 20) -> None:
        self._cache: OrderedDict[tuple, bytes] = OrderedDict()
        self._size = 0
        self._limit = limit_bytes
        self._lock = threading.Lock()

    def png(self, path: Path, sha256: str, page: int, width: int) -> bytes:
        width = max(100, min(int(width), MAX_RENDER_PX))
        key = (sha256, page, width)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        data = _render(path, page, width)
        with self._lock:
            self._cache[key] = data
            self._size += len(data)
            while self._size > self._limit and len(self._cache) > 1:
                self._size -= len(self._cache.popitem(last=False)[1])
        return data


def _render(path: Path, page: int, width: int) -> bytes:
    import pypdfium2

    document = pypdfium2.PdfDocument(str(path))
    try:
        if not 1 <= page <= len(document):
            raise NotFound(f"page {page} is not in this document (it has {len(document)})")
        pdf_page = document[page - 1]
        image = pdf_page.render(scale=width / pdf_page.get_width()).to_pil()
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=False, compress_level=1)
        return out.getvalue()
    except pypdfium2.PdfiumError as exc:
        raise InvalidInput(f"this PDF's page cannot be rendered: {exc}") from exc
    finally:
        document.close()
