"""``ingest_folder``: discover → parse and chunk (a producer thread) → embed → write → commit.

Parsing overlaps embedding: a thread parses and chunks files while the main thread embeds
groups of chunks. Each embedded group goes to the resumable embedding cache at once, so a
run that is killed keeps its work. Nothing is embedded for files whose content hash is known.
"""

from __future__ import annotations

import hashlib
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexes.chunk_store import FileRecord
from indexes.embedding_cache import text_key
from indexes.folder import IndexWriter
from ingest.chunking import chunk_file, embedding_text, make_splitter
from ingest.errors import ParseError
from ingest.parsers import parse_file
from ingest.progress import Progress, SilentProgress
from ingest.walk import discover
from rag.core.contracts import Embedder
from rag.core.errors import NotFound
from rag.core.tokenize import tokenize_chunks
from rag.core.settings import IngestSettings
from rag.core.types import Chunk, FailedFile, IngestSummary

_DONE = object()

# Sources of uploaded documents start with this; a folder's relative paths never contain "//",
# so a folder ingest can tell its own files from uploads and never removes the latter.
UPLOAD_SCHEME = "upload://"


@dataclass(frozen=True)
class _Parsed:
    record: FileRecord
    chunks: list[Chunk]
    is_update: bool
    tokens: list[list[str]] | None


@dataclass(frozen=True)
class _Touched:
    record: FileRecord


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _chunk(source: str, data: bytes, splitter, keyword_tokenizer) -> tuple[list[Chunk], list[list[str]] | None]:
    """Parse and chunk one file, with each chunk's keyword tokens when there is a tokenizer.
    Raises ParseError for unreadable bytes or a file without text."""
    chunks = chunk_file(parse_file(source, data), splitter)
    if not chunks:
        raise ParseError("empty file (no text)")
    tokens = tokenize_chunks(keyword_tokenizer, chunks) if keyword_tokenizer is not None else None
    return chunks, tokens


def _producer(candidates, known, settings: IngestSettings, token_length: Callable[[str], int],
              keyword_tokenizer, out: queue.Queue, failed: list[FailedFile], stop: threading.Event) -> None:
    splitter = make_splitter(token_length, settings.chunk_tokens, settings.chunk_overlap)
    try:
        for rel, path, stat in candidates:
            if stop.is_set():
                break
            try:
                data = path.read_bytes()
            except OSError as exc:
                failed.append(FailedFile(rel, f"unreadable: {exc.strerror or exc}"))
                out.put(None)
                continue
            record = FileRecord(rel, _sha256(data), stat.st_size, stat.st_mtime_ns)
            previous = known.get(rel)
            if previous is not None and previous.sha256 == record.sha256:
                out.put(_Touched(record))
                continue
            try:
                chunks, tokens = _chunk(rel, data, splitter, keyword_tokenizer)
            except ParseError as exc:
                failed.append(FailedFile(rel, str(exc)))
                out.put(None)
                continue
            except Exception as exc:  # a parser bug must not stop the run: report it as this file's reason
                failed.append(FailedFile(rel, f"parser error: {type(exc).__name__}: {exc}"))
                out.put(None)
                continue
            out.put(_Parsed(FileRecord(rel, record.sha256, record.size, record.mtime_ns, len(chunks)),
                            chunks, previous is not None, tokens))
    finally:
        out.put(_DONE)


def ingest_folder(
    folder: Path,
    writer: IndexWriter,
    embedder: Embedder,
    settings: IngestSettings,
    *,
    embed_headers: bool = True,
    progress: Progress | None = None,
    within: tuple[Path, ...] | None = None,
) -> IngestSummary:
    """Bring the index of ``writer`` in step with ``folder``; returns what changed.

    Uploaded documents (sources starting with ``upload://``) are left alone. ``within`` confines
    the walk to those folders (symlinks out of them are not followed).
    Raises NotFound for a missing folder; every per-file problem lands in ``summary.failed``.
    """
    t0 = time.perf_counter()
    progress = progress or SilentProgress()
    if not folder.is_dir():
        raise NotFound(f"folder not found: {folder}")
    committed = writer.committed_store()
    known = committed.files() if committed else {}
    if committed:
        committed.close()

    failed: list[FailedFile] = []
    seen: set[str] = set()
    unchanged = 0
    candidates = []
    limit = int(settings.max_file_mb * 1024 * 1024)
    for rel, path in discover(folder, include=settings.include, exclude=settings.exclude,
                              skip=(writer.root,), within=within):
        seen.add(rel)
        try:
            stat = path.stat()
        except OSError as exc:
            failed.append(FailedFile(rel, f"unreadable: {exc.strerror or exc}"))
            continue
        if stat.st_size > limit:
            failed.append(FailedFile(rel, f"too large: {stat.st_size / 1e6:.1f} MB > {settings.max_file_mb} MB limit"))
            continue
        previous = known.get(rel)
        if previous is not None and (previous.size, previous.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
            unchanged += 1
            continue
        candidates.append((rel, path, stat))

    removed = sorted(s for s in set(known) - seen if not s.startswith(UPLOAD_SCHEME))
    progress.start(len(seen))
    progress.advance(unchanged + len(failed), 0)

    work: queue.Queue = queue.Queue(maxsize=64)
    stop = threading.Event()
    thread = threading.Thread(
        target=_producer, name="foldrag-parse", daemon=True,
        args=(candidates, known, settings, embedder.token_length, writer.tokenizer, work, failed, stop),
    )
    thread.start()
    added = updated = embedded = 0
    touched: list[FileRecord] = []
    pending: list[_Parsed] = []

    def flush() -> None:
        nonlocal added, updated, embedded
        if not pending:
            return
        texts = [embedding_text(c, embed_headers) for p in pending for c in p.chunks]
        vectors, fresh = _vectors_with_cache(texts, embedder, writer, settings.encode_group)
        embedded += fresh
        offset = 0
        for item in pending:
            n = len(item.chunks)
            writer.store.replace_file(item.record, item.chunks, vectors[offset : offset + n], item.tokens)
            offset += n
            if item.is_update:
                updated += 1
            else:
                added += 1
            progress.advance(1, n)
        pending.clear()

    try:
        pending_chunks = 0
        while True:
            item = work.get()
            if item is _DONE:
                break
            if item is None:
                progress.advance(1, 0)
            elif isinstance(item, _Touched):
                touched.append(item.record)
                unchanged += 1
                progress.advance(1, 0)
            else:
                pending.append(item)
                pending_chunks += len(item.chunks)
                if pending_chunks >= settings.encode_group:
                    flush()
                    pending_chunks = 0
        flush()
        thread.join()
        for source in removed:
            writer.store.remove_file(source)
        if added or updated or removed or writer.needs_rebuild:
            for record in touched:
                writer.store.touch_file(record)
            manifest = writer.commit()
            total = manifest.chunks
        else:
            base = writer.base_manifest
            total = base.chunks if base else 0
    finally:
        stop.set()
        progress.close()
    return IngestSummary(
        added=added, updated=updated, unchanged=unchanged, removed=len(removed), chunks=total,
        embedded=embedded, seconds=time.perf_counter() - t0,
        failed=tuple(sorted(failed, key=lambda f: f.path)),
    )


def ingest_document(
    source: str, data: bytes, writer: IndexWriter, embedder: Embedder, settings: IngestSettings,
    *, embed_headers: bool = True,
) -> FileRecord:
    """Parse, chunk, embed and commit one document given as bytes (an upload); returns its record.

    Raises ParseError when the bytes cannot be read as the type its name says, or hold no text.
    """
    splitter = make_splitter(embedder.token_length, settings.chunk_tokens, settings.chunk_overlap)
    chunks, tokens = _chunk(source, data, splitter, writer.tokenizer)
    texts = [embedding_text(c, embed_headers) for c in chunks]
    vectors, _ = _vectors_with_cache(texts, embedder, writer, settings.encode_group)
    record = FileRecord(source, _sha256(data), len(data), time.time_ns(), len(chunks))
    writer.store.replace_file(record, chunks, vectors, tokens)
    writer.commit()
    return record


def _vectors_with_cache(texts: list[str], embedder: Embedder, writer: IndexWriter, group: int) -> tuple[np.ndarray, int]:
    """Vectors for ``texts``: from the cache where present, else embedded and cached group by group
    (each group committed at once, so a killed run keeps it). Returns (vectors, how many were embedded)."""
    assert writer.cache is not None
    if not texts:
        return np.zeros((0, embedder.dimension), np.float32), 0
    keys = [text_key(embedder.name, t) for t in texts]
    found = writer.cache.get_many(keys)
    missing = list(dict.fromkeys(t for t, k in zip(texts, keys) if k not in found))
    for begin in range(0, len(missing), group):
        part = missing[begin : begin + group]
        fresh = {text_key(embedder.name, t): v for t, v in zip(part, embedder.embed(part))}
        writer.cache.put_many(fresh)
        found.update(fresh)
    return np.stack([found[k] for k in keys]), len(missing)
