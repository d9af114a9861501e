"""Opening a collection's index for writing, and what a full disk becomes."""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from foldrag.core.contracts import Embedder, KeywordTokenizer
from foldrag.core.errors import IndexNotWritable, NoSpace
from foldrag.core.settings import Settings
from foldrag.indexes.folder import IndexWriter
from foldrag.ingest.vector_check import check_runtime


def check_writable(root: Path) -> None:
    """The cheap checks of a write, before any model loads: the folder can be made, and no other
    process is writing it (IndexNotWritable, IndexBusy)."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise IndexNotWritable(f"cannot write index folder {root}: {exc.strerror or exc}") from exc
    IndexWriter.check_free(root)


def open_writer(root: Path, embedder: Embedder, settings: Settings, tokenizer: KeywordTokenizer,
                fresh: bool = False) -> IndexWriter:
    """A writer of the index at ``root`` for ``embedder``'s vectors; IndexMismatch when the index
    was built by another embedder or runtime that does not mix. ``fresh``: a new index that replaces
    the committed one when it commits (re-embedding)."""
    writer = IndexWriter.open(root, embedder.name, embedder.dimension, settings.index,
                              tokenizer=tokenizer, backend=embedder.backend, fresh=fresh)
    try:
        check_runtime(writer, embedder, settings.embedding.embed_headers)
    except BaseException:
        writer.close()
        raise
    return writer


def _disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return isinstance(exc, sqlite3.OperationalError) and "disk is full" in str(exc)


@contextmanager
def disk_space(root: Path) -> Iterator[None]:
    """A write to ``root`` that runs out of disk ends in NoSpace. Put it outside the writer's
    ``with``: the writer has then removed its half-written generation, and the last good one stays."""
    try:
        yield
    except (OSError, sqlite3.OperationalError) as exc:
        if not _disk_full(exc):
            raise
        raise NoSpace(f"the disk holding {root} is full: nothing was committed and the last good index is "
                      "kept; free some space and run the ingest again (what was embedded is reused)") from exc
