"""``Document``: one file of a collection's index, as listings show it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from foldrag.indexes.chunk_store import FileRecord
from foldrag.ingest.pipeline import UPLOAD_SCHEME


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


def documents_of(files: dict[str, FileRecord]) -> list[Document]:
    """The documents of a chunk store's file records, by source."""
    return [Document.from_record(files[source]) for source in sorted(files)]
