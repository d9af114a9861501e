"""``ingest_folder``: plan (what changed) → engine.process (read, parse, chunk, embed) → apply (write, commit).

The plan and the apply run on the driver, around any engine (``ingest/engine.py``). Each embedded
group goes to the resumable embedding cache at once, so a run that is killed keeps its work.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from pathlib import Path

from foldrag.indexes.chunk_store import FileRecord
from foldrag.indexes.folder import IndexWriter
from foldrag.ingest.chunking import embedding_text, make_splitter
from foldrag.ingest.engine import IngestEngine, Work, create_engine, vectors_with_cache
from foldrag.ingest.outcomes import Failed, Indexed, Outcome, Unchanged, Working
from foldrag.ingest.plan import UPLOAD_SCHEME, IngestPlan, plan_folder
from foldrag.ingest.progress import Progress, SilentProgress
from foldrag.ingest.errors import ParseError
from foldrag.ingest.reading import chunk_bytes, parse_options, read_regular
from foldrag.core.contracts import Embedder
from foldrag.core.settings import IngestSettings
from foldrag.core.types import FailedFile, IngestSummary

__all__ = ["UPLOAD_SCHEME", "ingest_document", "ingest_documents", "ingest_folder"]


def ingest_folder(
    folder: Path,
    writer: IndexWriter,
    embedder: Embedder,
    settings: IngestSettings,
    *,
    embed_headers: bool = True,
    progress: Progress | None = None,
    within: tuple[Path, ...] | None = None,
    engine: IngestEngine | None = None,
) -> IngestSummary:
    """Bring the index of ``writer`` in step with ``folder``; returns what changed.

    Uploaded documents (sources starting with ``upload://``) are left alone. ``within`` confines
    the walk to those folders (symlinks out of them are not followed). ``engine`` defaults to the
    one ``settings.engine`` names.
    Raises NotFound for a missing folder; every per-file problem lands in ``summary.failed``.
    """
    t0 = time.perf_counter()
    progress = progress or SilentProgress()
    committed = writer.committed_store()
    known = committed.files() if committed else {}
    if committed:
        committed.close()
    plan = plan_folder(folder, known, settings, skip=(writer.root,), within=within)
    engine = engine or create_engine(settings)
    work = Work(embedder=embedder, settings=settings, embed_headers=embed_headers,
                keyword_tokenizer=writer.tokenizer, cache=writer.cache)
    apply = _Apply(writer, plan)
    progress.start(plan.seen)
    progress.advance(plan.unchanged + len(plan.failed), 0)
    try:
        outcomes = engine.process(plan.tasks, work)
        try:
            for outcome in outcomes:
                if isinstance(outcome, Working):
                    progress.note(f"{outcome.source}: {outcome.text}")
                    continue
                apply.take(outcome)
                progress.advance(1, len(outcome.chunks) if isinstance(outcome, Indexed) else 0)
        finally:
            outcomes.close()
        total = apply.finish()
    finally:
        progress.close()
    return apply.summary(total, time.perf_counter() - t0)


class _Apply:
    """Writes outcomes into the writer's new generation as they arrive; commits at the end when
    anything changed (or the index needs a rebuild for new settings)."""

    def __init__(self, writer: IndexWriter, plan: IngestPlan) -> None:
        self.writer = writer
        self.plan = plan
        self.added = self.updated = self.embedded = 0
        self.unchanged = plan.unchanged
        self.failed: list[FailedFile] = list(plan.failed)
        self.touched: list[FileRecord] = []

    def take(self, outcome: Outcome) -> None:
        match outcome:
            case Indexed():
                self.writer.begin().replace_file(outcome.record, list(outcome.chunks), outcome.vectors,
                                               None if outcome.tokens is None else [list(t) for t in outcome.tokens])
                self.embedded += outcome.embedded
                if outcome.is_update:
                    self.updated += 1
                else:
                    self.added += 1
            case Unchanged(record=record):
                self.touched.append(record)
                self.unchanged += 1
            case Failed(failure=failure):
                self.failed.append(failure)

    def finish(self) -> int:
        """Remove what left the folder, commit if anything changed; the index's chunk count."""
        writer = self.writer
        for source in self.plan.removed:
            writer.begin().remove_file(source)
        if self.added or self.updated or self.plan.removed or writer.needs_rebuild:
            for record in self.touched:
                writer.begin().touch_file(record)
            return writer.commit().chunks
        return writer.base_manifest.chunks if writer.base_manifest else 0

    def summary(self, total: int, seconds: float) -> IngestSummary:
        return IngestSummary(
            added=self.added, updated=self.updated, unchanged=self.unchanged, removed=len(self.plan.removed),
            chunks=total, embedded=self.embedded, seconds=seconds,
            failed=tuple(sorted(self.failed, key=lambda f: f.path)),
        )


def _write_document(source: str, data: bytes, writer: IndexWriter, embedder: Embedder, settings: IngestSettings,
                    splitter, embed_headers: bool, report=None) -> FileRecord:
    options = dataclasses.replace(parse_options(settings), report=report)
    chunks, tokens = chunk_bytes(source, data, splitter, writer.tokenizer, options)
    texts = [embedding_text(c, embed_headers) for c in chunks]
    vectors, _ = vectors_with_cache(texts, embedder, writer.cache, settings.encode_group)
    record = FileRecord(source, hashlib.sha256(data).hexdigest(), len(data), time.time_ns(), len(chunks))
    writer.begin().replace_file(record, list(chunks), vectors, None if tokens is None else [list(t) for t in tokens])
    return record


def ingest_document(
    source: str, data: bytes, writer: IndexWriter, embedder: Embedder, settings: IngestSettings,
    *, embed_headers: bool = True,
) -> FileRecord:
    """Parse, chunk, embed and commit one document given as bytes (an upload); returns its record.

    Raises ParseError when the bytes cannot be read as the type its name says, or hold no text.
    """
    splitter = make_splitter(embedder.token_length, settings.chunk_tokens, settings.chunk_overlap)
    record = _write_document(source, data, writer, embedder, settings, splitter, embed_headers)
    writer.commit()
    return record


def _reason(exc: Exception) -> str:
    """Why a file was skipped, as its summary says it."""
    if isinstance(exc, ParseError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"unreadable: {exc.strerror or exc}"
    return f"parser error: {type(exc).__name__}: {exc}"


def ingest_documents(
    documents: list[tuple[str, Path]], writer: IndexWriter, embedder: Embedder, settings: IngestSettings,
    *, embed_headers: bool = True, progress: Progress | None = None,
) -> IngestSummary:
    """Index files as the sources named (``upload://NAME``), with progress, in one commit: a file that
    cannot be read is skipped with its reason (``summary.failed``) and the others still land."""
    t0 = time.perf_counter()
    progress = progress or SilentProgress()
    splitter = make_splitter(embedder.token_length, settings.chunk_tokens, settings.chunk_overlap)
    committed = writer.committed_store()
    known = committed.files() if committed else {}
    if committed:
        committed.close()
    added = updated = embedded = 0
    failed: list[FailedFile] = []
    progress.start(len(documents))
    try:
        for source, path in documents:
            try:
                data = read_regular(path, int(settings.max_file_mb * 1024 * 1024))
                record = _write_document(source, data, writer, embedder, settings, splitter, embed_headers,
                                         report=lambda text, source=source: progress.note(f"{source}: {text}"))
            except Exception as exc:  # a parser bug too is that file's reason, never the whole upload's end
                failed.append(FailedFile(source, _reason(exc)))
                progress.advance(1, 0)
                continue
            updated, added = (updated + 1, added) if source in known else (updated, added + 1)
            embedded += record.chunks
            progress.advance(1, record.chunks)
        total = writer.commit().chunks if added or updated else (writer.base_manifest.chunks if writer.base_manifest else 0)
    finally:
        progress.close()
    return IngestSummary(added=added, updated=updated, chunks=total, embedded=embedded,
                         seconds=time.perf_counter() - t0, failed=tuple(failed))
