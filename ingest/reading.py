"""Bytes of one file → its chunks (and their keyword tokens): what every engine and uploads share."""

from __future__ import annotations

from collections.abc import Callable

from ingest.chunking import chunk_file
from ingest.errors import ParseError
from ingest.parsers import parse_file
from rag.core.tokenize import tokenize_chunks
from rag.core.types import Chunk


def chunk_bytes(source: str, data: bytes, splitter, keyword_tokenizer: Callable[[str], list[str]] | None,
                ) -> tuple[tuple[Chunk, ...], tuple[tuple[str, ...], ...] | None]:
    """Parse and chunk one file, with each chunk's keyword tokens when there is a tokenizer.
    Raises ParseError for unreadable bytes or a file without text."""
    chunks = tuple(chunk_file(parse_file(source, data), splitter))
    if not chunks:
        raise ParseError("empty file (no text)")
    if keyword_tokenizer is None:
        return chunks, None
    return chunks, tuple(tuple(t) for t in tokenize_chunks(keyword_tokenizer, chunks))
