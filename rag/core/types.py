"""Plain frozen data passed between the parts of foldrag."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from foldrag.core.locations import SectionLayout, Span


@dataclass(frozen=True)
class Section:
    """A piece of a parsed file: the whole text of a Markdown file, a slide, a sheet, or a run of a
    PDF's pages (consecutive pages with a text layer are one section, so a paragraph that crosses a
    page break stays one chunk; ``page`` is the first, ``layout`` tells each character's page)."""

    text: str
    page: int | None = None  # the page of a PDF, the slide of a deck, the sheet of a workbook (from 1)
    title: str | None = None
    ocr: bool = False  # the text was read from an image of the page, not from a text layer
    layout: SectionLayout | None = field(default=None, compare=False, repr=False)  # a PDF's character boxes


@dataclass(frozen=True)
class ParsedFile:
    source: str  # path relative to the ingested folder, with forward slashes
    sections: tuple[Section, ...]
    title: str | None = None


@dataclass(frozen=True)
class Chunk:
    """A unit of retrieval. ``id`` is a content hash of the source and text."""

    id: str
    source: str
    text: str
    page: int | None = None
    title: str | None = None
    heading: str | None = None
    start: int = 0  # character offsets into the section text (for a PDF: its run of pages, from ``page``)
    end: int = 0
    ocr: bool = False  # read by OCR from an image (a scanned page or an image file)
    spans: tuple[Span, ...] = field(default=(), compare=False, repr=False)  # its sentences and where they are

    def pages(self) -> tuple[int, ...]:
        """Every page the chunk's sentences lie on (a PDF chunk can cross a page break), else its page."""
        found = sorted({box.page for span in self.spans for box in span.boxes})
        return tuple(found) if found else ((self.page,) if self.page else ())

    def page_of(self, start: int, end: int) -> int | None:
        """The page of the chunk's characters ``start:end``: that of the first stored sentence they
        overlap (where it begins), else the chunk's page."""
        for span in self.spans:
            if span.start < end and start < span.end and span.boxes:
                return span.boxes[0].page
        return self.page

    def metadata(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "heading": self.heading,
            "start": self.start,
            "end": self.end,
            "ocr": self.ocr,
        }


@dataclass(frozen=True)
class Signal:
    """What one ranker said of a hit: its rank (from 1) and score in that ranker's list."""

    name: str  # a retriever ("dense", "bm25"), "fused" or "rerank"
    rank: int
    score: float

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "rank": self.rank, "score": round(float(self.score), 6)}


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its score (higher is better) and the rankers' signals behind it."""

    chunk: Chunk
    score: float
    signals: tuple[Signal, ...] = field(default=(), compare=False)
    collection: str = field(default="", compare=False)  # set when one question asked several collections

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.chunk.id,
            "score": round(float(self.score), 6),
            "text": self.chunk.text,
            "source": self.chunk.source,
            "page": self.chunk.page,
            "pages": list(self.chunk.pages()),
            "metadata": self.chunk.metadata(),
            **({"collection": self.collection} if self.collection else {}),
        }


@dataclass(frozen=True)
class FailedFile:
    path: str
    reason: str


@dataclass(frozen=True)
class IngestSummary:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks: int = 0  # chunks in the index after the run
    embedded: int = 0  # chunks embedded by this run
    seconds: float = 0.0
    failed: tuple[FailedFile, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "chunks": self.chunks,
            "embedded": self.embedded,
            "seconds": round(self.seconds, 3),
            "failed": [{"path": f.path, "reason": f.reason} for f in self.failed],
        }
