"""Bytes of one file → its chunks (and their keyword tokens): what every engine and uploads share."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ingest.chunking import chunk_file
from ingest.errors import ParseError
from ingest.parsers import ParseOptions, parse_file
from ingest.walk import not_regular
from rag.core.settings import IngestSettings
from rag.core.tokenize import tokenize_chunks
from rag.core.types import Chunk


def parse_options(settings: IngestSettings) -> ParseOptions:
    return ParseOptions(ocr=settings.ocr, ocr_languages=settings.ocr_languages, ocr_dpi=settings.ocr_dpi,
                        tables=settings.pdf_tables, ocr_workers=settings.ocr_workers or (os.cpu_count() or 1))


def chunk_bytes(source: str, data: bytes, splitter, keyword_tokenizer: Callable[[str], list[str]] | None,
                options: ParseOptions = ParseOptions(),
                ) -> tuple[tuple[Chunk, ...], tuple[tuple[str, ...], ...] | None]:
    """Parse and chunk one file, with each chunk's keyword tokens when there is a tokenizer.
    Raises ParseError for unreadable bytes or a file without text."""
    chunks = tuple(chunk_file(parse_file(source, data, options), splitter))
    if not chunks:
        raise ParseError("empty file (no text)")
    if keyword_tokenizer is None:
        return chunks, None
    return chunks, tuple(tuple(t) for t in tokenize_chunks(keyword_tokenizer, chunks))


def read_regular(path: Path, limit: int) -> bytes:
    """The bytes of the regular file at ``path``; never more than ``limit`` are read.

    Opened without blocking and checked on the open handle, so a FIFO, a device or a file swapped for
    one since the folder was walked is refused (ParseError) rather than read forever. OSError for a
    file that cannot be opened.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        kind = not_regular(os.fstat(fd).st_mode)
        if kind:
            raise ParseError(kind)
        os.set_blocking(fd, True)
        blocks, total = [], 0
        while block := os.read(fd, min(1 << 20, limit + 1 - total)):
            blocks.append(block)
            total += len(block)
            if total > limit:
                raise ParseError(f"too large: more than {limit / 1e6:.1f} MB read (ingest.max_file_mb)")
        return b"".join(blocks)
    finally:
        os.close(fd)
