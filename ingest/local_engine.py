"""The local ingest engine: a thread parses and chunks files while the calling thread embeds.

Parsing overlaps embedding. Chunks are embedded in groups of ``ingest.encode_group`` (through the
resumable cache); nothing is embedded for a file whose content hash is already in the index.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from indexes.chunk_store import FileRecord
from ingest.chunking import embedding_text, make_splitter
from ingest.engine import Work, vectors_with_cache
from ingest.errors import ParseError
from ingest.outcomes import Failed, Indexed, Outcome, Unchanged
from ingest.plan import FileTask
from ingest.parsers import ParseOptions
from ingest.reading import chunk_bytes, parse_options, read_regular
from rag.core.settings import IngestSettings
from rag.core.types import Chunk, FailedFile

_DONE = object()


@dataclass(frozen=True)
class _Parsed:
    record: FileRecord
    chunks: tuple[Chunk, ...]
    tokens: tuple[tuple[str, ...], ...] | None
    is_update: bool


class LocalEngine:
    @classmethod
    def create(cls, settings: IngestSettings) -> "LocalEngine":
        return cls()

    def process(self, tasks: Sequence[FileTask], work: Work) -> Iterator[Outcome]:
        out: queue.Queue = queue.Queue(maxsize=64)
        stop = threading.Event()
        thread = threading.Thread(target=_parse_all, args=(tasks, work, out, stop), name="foldrag-parse", daemon=True)
        thread.start()
        pending: list[_Parsed] = []
        pending_chunks = 0
        try:
            while (item := out.get()) is not _DONE:
                if not isinstance(item, _Parsed):
                    yield item
                    continue
                pending.append(item)
                pending_chunks += len(item.chunks)
                if pending_chunks >= work.settings.encode_group:
                    yield from _embed(pending, work)
                    pending, pending_chunks = [], 0
            yield from _embed(pending, work)
        finally:
            stop.set()
            while thread.is_alive():  # unblock a producer waiting on a full queue
                try:
                    out.get_nowait()
                except queue.Empty:
                    thread.join(0.05)


def _embed(pending: list[_Parsed], work: Work) -> Iterator[Indexed]:
    if not pending:
        return
    texts = [embedding_text(c, work.embed_headers) for p in pending for c in p.chunks]
    vectors, fresh = vectors_with_cache(texts, work.embedder, work.cache, work.settings.encode_group)
    offset = 0
    for n, item in enumerate(pending):
        size = len(item.chunks)
        yield Indexed(item.record, item.chunks, vectors[offset : offset + size], item.tokens, item.is_update,
                      embedded=fresh if n == 0 else 0)  # the group's count goes with its first file
        offset += size


def _parse_all(tasks: Sequence[FileTask], work: Work, out: queue.Queue, stop: threading.Event) -> None:
    splitter = make_splitter(work.embedder.token_length, work.settings.chunk_tokens, work.settings.chunk_overlap)
    options = parse_options(work.settings)
    try:
        for task in tasks:
            if stop.is_set():
                break
            with work.embedder.bulk_turn():  # a server's queries go first, for the CPU too
                parsed = _parse(task, splitter, options, work)
            out.put(parsed)
    finally:
        out.put(_DONE)


def _parse(task: FileTask, splitter, options: ParseOptions, work: Work) -> _Parsed | Outcome:
    try:
        data = read_regular(task.path, int(work.settings.max_file_mb * 1024 * 1024))
    except ParseError as exc:
        return Failed(FailedFile(task.source, str(exc)))
    except OSError as exc:
        return Failed(FailedFile(task.source, f"unreadable: {exc.strerror or exc}"))
    sha = hashlib.sha256(data).hexdigest()
    if sha == task.previous_sha256:
        return Unchanged(FileRecord(task.source, sha, task.size, task.mtime_ns))
    try:
        chunks, tokens = chunk_bytes(task.source, data, splitter, work.keyword_tokenizer, options)
    except ParseError as exc:
        return Failed(FailedFile(task.source, str(exc)))
    except Exception as exc:  # a parser bug must not stop the run: report it as this file's reason
        return Failed(FailedFile(task.source, f"parser error: {type(exc).__name__}: {exc}"))
    record = FileRecord(task.source, sha, task.size, task.mtime_ns, len(chunks))
    return _Parsed(record, chunks, tokens, task.previous_sha256 is not None)
