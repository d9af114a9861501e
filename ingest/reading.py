"""Bytes of one file → its chunks (and their keyword tokens): what every engine and uploads share."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from foldrag.ingest.chunking import chunk_file
from foldrag.ingest.errors import ParseError
from foldrag.ingest.outcomes import Failed, Parsed, Unchanged
from foldrag.ingest.plan import FileTask
from foldrag.indexes.chunk_store import FileRecord
from foldrag.ingest.parsers import ParseOptions, parse_file
from foldrag.ingest.walk import not_regular
from foldrag.core.settings import IngestSettings
from foldrag.core.tokenize import tokenize_chunks
from foldrag.core.types import Chunk, FailedFile


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


def read_task(task: FileTask, limit: int) -> bytes | Failed:
    """The bytes of a planned file, or why it cannot be read."""
    try:
        return read_regular(task.path, limit)
    except ParseError as exc:
        return Failed(FailedFile(task.source, str(exc)))
    except OSError as exc:
        return Failed(FailedFile(task.source, f"unreadable: {exc.strerror or exc}"))


def unchanged(task: FileTask, sha: str) -> Unchanged | None:
    """The refreshed record of a file touched (new mtime) whose content hash ``sha`` is what the
    index holds; None when it changed or is new."""
    return Unchanged(FileRecord(task.source, sha, task.size, task.mtime_ns)) if sha == task.previous_sha256 else None


def read_and_parse(task: FileTask, limit: int, splitter, keyword_tokenizer: Callable[[str], list[str]] | None,
                   options: ParseOptions) -> Parsed | Unchanged | Failed:
    """``parse_task`` of the file's bytes, read here (``read_task``)."""
    data = read_task(task, limit)
    return data if isinstance(data, Failed) else parse_task(task, data, splitter, keyword_tokenizer, options)


def parse_task(task: FileTask, data: bytes, splitter, keyword_tokenizer: Callable[[str], list[str]] | None,
               options: ParseOptions) -> Parsed | Unchanged | Failed:
    """What one planned file's bytes come to: chunks to embed, the same content as indexed, or why not.
    Never raises for the file's content (every engine reports a parser bug as that file's reason)."""
    sha = hashlib.sha256(data).hexdigest()
    if same := unchanged(task, sha):
        return same
    try:
        chunks, tokens = chunk_bytes(task.source, data, splitter, keyword_tokenizer, options)
    except ParseError as exc:
        return Failed(FailedFile(task.source, str(exc)))
    except Exception as exc:  # a parser bug must not stop the run: report it as this file's reason
        return Failed(FailedFile(task.source, f"parser error: {type(exc).__name__}: {exc}"))
    record = FileRecord(task.source, sha, task.size, task.mtime_ns, len(chunks))
    return Parsed(record, chunks, tokens, task.previous_sha256 is not None)
