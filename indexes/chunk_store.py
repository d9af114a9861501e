"""The chunk store: one SQLite file with chunk texts, metadata, vectors and per-file hashes."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from foldrag.core.locations import Span
from foldrag.core.types import Chunk

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    source TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    chunks INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    page INTEGER,
    title TEXT,
    heading TEXT,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    text TEXT NOT NULL,
    vector BLOB NOT NULL,
    tokens TEXT,  -- keyword tokens joined by spaces; NULL until tokenized
    ocr INTEGER NOT NULL DEFAULT 0,  -- 1: the text was read by OCR
    spans TEXT  -- its sentences and where they are on the pages, JSON (core.locations.Span); NULL: unknown
);
CREATE INDEX IF NOT EXISTS chunks_source ON chunks(source);
CREATE TABLE IF NOT EXISTS passage_tokens (  -- keyword tokens of BM25 passages, by passage_key
    key TEXT PRIMARY KEY,
    tokens TEXT NOT NULL
);
"""
_BASE_COLUMNS = 'rowid, id, source, page, title, heading, start, "end", text'
# Columns added since the first stores: what an older store reads instead (it gains the column when
# copied for writing, and its chunks their values at their file's next ingest).
_LATER_COLUMNS = (("ocr", "INTEGER NOT NULL DEFAULT 0", "0"), ("spans", "TEXT", "NULL"))


def _missing_columns(conn: sqlite3.Connection) -> frozenset[str]:
    have = {row[1] for row in conn.execute("PRAGMA table_info(chunks)")}
    return frozenset(name for name, _, _ in _LATER_COLUMNS if name not in have)


def _columns(missing: frozenset[str]) -> str:
    return ", ".join([_BASE_COLUMNS, *(f"{default} AS {name}" if name in missing else name
                                       for name, _, default in _LATER_COLUMNS)])


def _upgrade(conn: sqlite3.Connection) -> None:
    conn.executescript(_SCHEMA)
    missing = _missing_columns(conn)
    for name, kind, _ in _LATER_COLUMNS:
        if name in missing:
            conn.execute(f"ALTER TABLE chunks ADD COLUMN {name} {kind}")
    conn.commit()


def _spans_json(spans: tuple[Span, ...]) -> str | None:
    return json.dumps([s.to_json() for s in spans], separators=(",", ":")) if spans else None


def _spans_of(text: str | None) -> tuple[Span, ...]:
    return tuple(Span.from_json(s) for s in json.loads(text)) if text else ()


@dataclass(frozen=True)
class FileRecord:
    source: str
    sha256: str
    size: int
    mtime_ns: int
    chunks: int = 0


def _row_to_chunk(row) -> Chunk:
    return Chunk(id=row[1], source=row[2], page=row[3], title=row[4], heading=row[5],
                 start=row[6], end=row[7], text=row[8], ocr=bool(row[9]), spans=_spans_of(row[10]))


class ChunkStore:
    """Read/write access to one generation's ``chunks.sqlite``."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._missing = _missing_columns(conn)
        self._columns = _columns(self._missing)

    @classmethod
    def create(cls, path: Path) -> "ChunkStore":
        conn = sqlite3.connect(path, check_same_thread=False)
        _upgrade(conn)
        return cls(conn)

    @classmethod
    def open_readonly(cls, path: Path) -> "ChunkStore":
        # A committed generation never changes, so SQLite may skip locking entirely.
        conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
        return cls(conn)

    def close(self) -> None:
        self._conn.close()

    def commit(self) -> None:
        self._conn.commit()

    # files
    def files(self) -> dict[str, FileRecord]:
        rows = self._conn.execute("SELECT source, sha256, size, mtime_ns, chunks FROM files")
        return {r[0]: FileRecord(*r) for r in rows}

    def touch_file(self, record: FileRecord) -> None:
        self._conn.execute(
            "UPDATE files SET size = ?, mtime_ns = ? WHERE source = ?",
            (record.size, record.mtime_ns, record.source),
        )

    def replace_file(self, record: FileRecord, chunks: list[Chunk], vectors: np.ndarray,
                     tokens: list[list[str]] | None = None) -> None:
        """Swap every chunk of ``record.source`` for ``chunks`` (one transaction with the caller's commit)."""
        self.remove_file(record.source)
        token_rows = [" ".join(t) for t in tokens] if tokens is not None else [None] * len(chunks)
        self._conn.executemany(
            'INSERT INTO chunks (id, source, page, title, heading, start, "end", text, vector, tokens, ocr, spans) '
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (c.id, c.source, c.page, c.title, c.heading, c.start, c.end, c.text,
                 np.asarray(v, dtype=np.float32).tobytes(), t, int(c.ocr), _spans_json(c.spans))
                for c, v, t in zip(chunks, vectors, token_rows, strict=True)
            ],
        )
        self._conn.execute(
            "INSERT INTO files (source, sha256, size, mtime_ns, chunks) VALUES (?,?,?,?,?)",
            (record.source, record.sha256, record.size, record.mtime_ns, len(chunks)),
        )

    def remove_file(self, source: str) -> None:
        self._conn.execute("DELETE FROM chunks WHERE source = ?", (source,))
        self._conn.execute("DELETE FROM files WHERE source = ?", (source,))

    # chunks
    def count(self) -> int:
        return self._conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]

    def file_count(self) -> int:
        return self._conn.execute("SELECT COUNT(*) FROM files").fetchone()[0]

    def vectors(self, dimension: int) -> tuple[np.ndarray, np.ndarray]:
        """All ``(rowids, vectors)`` in rowid order."""
        return self.vectors_between(0, 2**63 - 1, dimension)

    def max_rowid(self) -> int:
        return self._conn.execute("SELECT coalesce(max(rowid), 0) FROM chunks").fetchone()[0]

    def vectors_between(self, first: int, last: int, dimension: int) -> tuple[np.ndarray, np.ndarray]:
        """``(rowids, vectors)`` of the rows with ``first <= rowid <= last``, in rowid order."""
        rows = self._conn.execute("SELECT rowid, vector FROM chunks WHERE rowid BETWEEN ? AND ? ORDER BY rowid",
                                  (first, last)).fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), dimension)
        return ids, matrix

    def rows_digest(self, first: int, last: int) -> tuple[int, str]:
        """How many rows ``first <= rowid <= last`` holds and a hash of their (rowid, chunk id) pairs:
        equal digests mean the same chunks under the same rowids (a chunk id hashes its text)."""
        digest = hashlib.sha256()
        count = 0
        for rowid, chunk_id in self._conn.execute(
                "SELECT rowid, id FROM chunks WHERE rowid BETWEEN ? AND ? ORDER BY rowid", (first, last)):
            digest.update(f"{rowid}:{chunk_id};".encode())
            count += 1
        return count, digest.hexdigest()

    def sample(self, n: int, dimension: int) -> list[tuple[Chunk, np.ndarray]]:
        """Up to ``n`` chunks spread evenly over the store, with their vectors."""
        step = max(1, self.count() // max(1, n))
        rows = self._conn.execute(f"SELECT {self._columns}, vector FROM chunks WHERE rowid % ? = 0 "
                                  "ORDER BY rowid LIMIT ?", (step, n)).fetchall()
        if not rows:  # rowids not starting at a multiple of step
            rows = self._conn.execute(f"SELECT {self._columns}, vector FROM chunks ORDER BY rowid LIMIT ?", (n,)).fetchall()
        return [(_row_to_chunk(r), np.frombuffer(r[-1], dtype=np.float32).reshape(dimension)) for r in rows]

    def vectors_by_rowids(self, rowids: Iterable[int], dimension: int) -> dict[int, np.ndarray]:
        """The stored (exact) vectors of ``rowids``."""
        wanted = [int(r) for r in rowids]
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        rows = self._conn.execute(f"SELECT rowid, vector FROM chunks WHERE rowid IN ({marks})", wanted)
        return {r[0]: np.frombuffer(r[1], dtype=np.float32).reshape(dimension) for r in rows}

    def by_rowids(self, rowids: Iterable[int]) -> dict[int, Chunk]:
        wanted = [int(r) for r in rowids]
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        rows = self._conn.execute(f"SELECT {self._columns} FROM chunks WHERE rowid IN ({marks})", wanted)
        return {r[0]: _row_to_chunk(r) for r in rows}

    def file(self, source: str) -> FileRecord | None:
        row = self._conn.execute("SELECT source, sha256, size, mtime_ns, chunks FROM files WHERE source = ?",
                                 (source,)).fetchone()
        return FileRecord(*row) if row else None

    def last_page(self, source: str) -> int:
        """The highest page any chunk of ``source`` is on (0 for a file without pages)."""
        return self._conn.execute("SELECT coalesce(max(page), 0) FROM chunks WHERE source = ?", (source,)).fetchone()[0]

    def by_id(self, chunk_id: str) -> Chunk | None:
        row = self._conn.execute(f"SELECT {self._columns} FROM chunks WHERE id = ?", (chunk_id,)).fetchone()
        return _row_to_chunk(row) if row else None

    def chunks_of(self, source: str) -> list[Chunk]:
        """The chunks of one file, in reading order (page, then offset)."""
        rows = self._conn.execute(f"SELECT {self._columns} FROM chunks WHERE source = ? "
                                  'ORDER BY coalesce(page, 0), start, "end"', (source,))
        return [_row_to_chunk(r) for r in rows]

    def ocr_pages(self) -> dict[str, int]:
        """Source → how many of its pages (or images) were read by OCR."""
        if "ocr" in self._missing:  # a store from before OCR
            return {}
        return dict(self._conn.execute("SELECT source, COUNT(DISTINCT coalesce(page, 0)) FROM chunks "
                                       "WHERE ocr = 1 GROUP BY source"))

    def untokenized(self) -> list[Chunk]:
        rows = self._conn.execute(f"SELECT {self._columns} FROM chunks WHERE tokens IS NULL ORDER BY rowid")
        return [_row_to_chunk(r) for r in rows]

    def set_tokens(self, items: list[tuple[str, list[str]]]) -> None:
        self._conn.executemany("UPDATE chunks SET tokens = ? WHERE id = ?", [(" ".join(t), cid) for cid, t in items])

    def clear_tokens(self) -> None:
        self._conn.execute("UPDATE chunks SET tokens = NULL")
        self._conn.execute("DELETE FROM passage_tokens")

    def chunks(self) -> list[Chunk]:
        """Every chunk in rowid order (the order of ``tokens()`` and ``vectors()``)."""
        rows = self._conn.execute(f"SELECT {self._columns} FROM chunks ORDER BY rowid")
        return [_row_to_chunk(r) for r in rows]

    def passage_tokens(self) -> dict[str, list[str]]:
        return {k: t.split() for k, t in self._conn.execute("SELECT key, tokens FROM passage_tokens")}

    def replace_passage_tokens(self, items: dict[str, list[str]]) -> None:
        """Keep exactly these passages' tokens (older entries go)."""
        self._conn.execute("DELETE FROM passage_tokens")
        self._conn.executemany("INSERT INTO passage_tokens (key, tokens) VALUES (?, ?)",
                               [(k, " ".join(t)) for k, t in items.items()])

    def tokens(self) -> tuple[np.ndarray, list[list[str]]]:
        """All ``(rowids, token lists)`` in rowid order."""
        rows = self._conn.execute("SELECT rowid, tokens FROM chunks ORDER BY rowid").fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        return ids, [(r[1] or "").split() for r in rows]

    def copy_to(self, path: Path) -> "ChunkStore":
        """A consistent copy of this store at ``path`` (SQLite's online backup), opened for writing."""
        target = sqlite3.connect(path, check_same_thread=False)
        self._conn.backup(target)
        _upgrade(target)
        return ChunkStore(target)
