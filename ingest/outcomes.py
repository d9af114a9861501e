"""What an ingest engine reports for each file of the plan, in any order."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from foldrag.indexes.chunk_store import FileRecord
from foldrag.core.types import Chunk, FailedFile


@dataclass(frozen=True)
class Indexed:
    """A new or changed file, parsed, chunked and embedded: ready to be written."""

    record: FileRecord
    chunks: tuple[Chunk, ...]
    vectors: np.ndarray  # one row per chunk
    tokens: tuple[tuple[str, ...], ...] | None  # keyword tokens per chunk; None without a BM25 index
    is_update: bool
    embedded: int  # chunks this run had to embed (the rest came from the embedding cache)


@dataclass(frozen=True)
class Unchanged:
    """Touched (new mtime) but the same content: only its record is refreshed."""

    record: FileRecord


@dataclass(frozen=True)
class Failed:
    failure: FailedFile


Outcome = Indexed | Unchanged | Failed


@dataclass(frozen=True)
class Working:
    """Not an outcome: how far an engine is inside one long file (OCR pages), for the progress."""

    source: str
    text: str


@dataclass(frozen=True)
class Parsed:
    """A new or changed file, parsed and chunked, not yet embedded (what an engine embeds next)."""

    record: FileRecord
    chunks: tuple[Chunk, ...]
    tokens: tuple[tuple[str, ...], ...] | None
    is_update: bool

    def embedded(self, vectors: np.ndarray, fresh: int) -> Indexed:
        return Indexed(self.record, self.chunks, vectors, self.tokens, self.is_update, embedded=fresh)
