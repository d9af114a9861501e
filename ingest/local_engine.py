"""The local ingest engine: a thread parses and chunks files while the calling thread embeds.

Parsing overlaps embedding. Chunks are embedded in groups of ``ingest.encode_group`` (through the
resumable cache); nothing is embedded for a file whose content hash is already in the index.
"""

from __future__ import annotations

import functools
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from foldrag.ingest.chunking import embedding_text, make_splitter
from foldrag.ingest.engine import Work, by_file, vectors_with_cache
from foldrag.ingest.outcomes import Indexed, Outcome, Parsed, Working
from foldrag.ingest.parsers import ParseOptions
from foldrag.ingest.plan import FileTask
from foldrag.ingest.reading import parse_options, read_and_parse
from foldrag.core.settings import IngestSettings

if TYPE_CHECKING:
    from foldrag.ingest.formats.ocr import OcrEngine

_DONE = object()


class LocalEngine:
    """Parses in a thread, embeds in the caller's. ``ocr_engine`` makes the OCR engine for the
    parses (``ParseOptions.ocr_engine``; None: Tesseract, when installed); tests pass a fake."""

    def __init__(self, ocr_engine: Callable[[ParseOptions], OcrEngine | str] | None = None) -> None:
        self.ocr_engine = ocr_engine

    @classmethod
    def create(cls, settings: IngestSettings) -> "LocalEngine":
        return cls()

    def process(self, tasks: Sequence[FileTask], work: Work) -> Iterator[Outcome]:
        out: queue.Queue = queue.Queue(maxsize=64)
        stop = threading.Event()
        thread = threading.Thread(target=_parse_all, args=(tasks, work, out, stop, self.ocr_engine),
                                  name="foldrag-parse", daemon=True)
        thread.start()
        pending: list[Parsed] = []
        pending_chunks = 0
        try:
            while (item := out.get()) is not _DONE:
                if not isinstance(item, Parsed):  # an outcome, or a long file's progress
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


def _embed(pending: list[Parsed], work: Work) -> Iterator[Indexed]:
    if not pending:
        return
    texts = [embedding_text(c, work.embed_headers) for p in pending for c in p.chunks]
    vectors, fresh = vectors_with_cache(texts, work.embedder, work.cache, work.settings.encode_group)
    yield from by_file(pending, vectors, fresh)


def _parse_all(tasks: Sequence[FileTask], work: Work, out: queue.Queue, stop: threading.Event,
               ocr_engine: Callable[[ParseOptions], OcrEngine | str] | None) -> None:
    splitter = make_splitter(work.embedder.token_length, work.settings.chunk_tokens, work.settings.chunk_overlap)
    options = replace(parse_options(work.settings), ocr_engine=ocr_engine)
    limit = int(work.settings.max_file_mb * 1024 * 1024)
    try:
        for task in tasks:
            if stop.is_set():
                break
            told = replace(options, report=functools.partial(_tell, out, task.source))
            with work.embedder.bulk_turn():  # a server's queries go first, for the CPU too
                parsed = read_and_parse(task, limit, splitter, work.keyword_tokenizer, told)
            out.put(parsed)
    finally:
        out.put(_DONE)


def _tell(out: queue.Queue, source: str, text: str) -> None:
    """A long file's progress (from a parser's threads): dropped rather than waited for when full."""
    try:
        out.put_nowait(Working(source, text))
    except queue.Full:
        pass
