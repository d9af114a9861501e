"""The original files behind a collection's documents, to show them: the folder of its last ingest
(with that run's summary, so skipped files keep their reasons) in ``<index>/origin.json``, and its
uploads, kept in ``<index>/uploads/``.

A path is only ever resolved inside its folder: a source with ``..`` or an absolute path, or one
that resolves (through a link) outside the folder, has no original.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from foldrag.core.errors import Conflict
from foldrag.core.types import IngestSummary
from foldrag.indexes.chunk_store import FileRecord
from foldrag.ingest.pipeline import UPLOAD_SCHEME

ORIGIN_FILE = "origin.json"
UPLOADS = "uploads"


@dataclass(frozen=True)
class Original:
    """A document's file as it is now: its path (None when it cannot be shown) and whether it is
    the file that was indexed: "same", "changed" (its content differs), "missing", or "unrecorded"
    (an index ingested before foldrag recorded its folder: the next ingest records it)."""

    path: Path | None
    status: str


def _write_atomic(target: Path, data: bytes) -> None:
    """``target`` holds ``data`` whole or is left as it was: written to a temporary file of its own
    in the same folder (a short name, unique per call: two writers of one name never share it),
    then renamed over it; the temporary file is removed on any failure. Conflict when something
    other than a file (a folder, a link) is at ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or (target.exists() and not target.is_file()):
        raise Conflict(f"{target.name}: something other than a file is there")
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".part")
    try:
        with open(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _inside(folder: Path, relative: str) -> Path | None:
    parts = PurePosixPath(relative).parts
    if not parts or relative.startswith("/") or ".." in parts or "\x00" in relative:
        return None
    real_folder = folder.resolve()
    candidate = (real_folder / relative).resolve()
    return candidate if candidate.is_relative_to(real_folder) else None


class Originals:
    """The originals of the index at ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def record_ingest(self, folder: Path, summary: IngestSummary) -> None:
        """Remember ``folder`` as where the index's files come from, with the run's summary."""
        record = {"folder": str(folder.resolve()), "finished": time.time(), "summary": summary.to_json()}
        _write_atomic(self.root / ORIGIN_FILE, json.dumps(record, ensure_ascii=False).encode("utf-8"))

    def last_ingest(self) -> dict[str, Any] | None:
        """The folder and summary of the last ingest, or None before one."""
        try:
            return json.loads((self.root / ORIGIN_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def keep_upload(self, name: str, data: bytes) -> Path:
        """Keep an uploaded file's bytes (replacing an upload of the same name)."""
        target = _inside(self.root / UPLOADS, name)
        if target is None or target.parent != (self.root / UPLOADS).resolve():
            raise ValueError(f"not a plain file name: {name!r}")
        _write_atomic(target, data)
        return target

    def uploads(self) -> list[str]:
        """The names of the kept uploads."""
        folder = self.root / UPLOADS
        return (sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
                if folder.is_dir() else [])  # a name with a leading dot is a write in flight

    def forget(self, source: str) -> None:
        """Drop a kept upload (``upload://NAME``); any other source is left alone."""
        target = self.path_of(source) if source.startswith(UPLOAD_SCHEME) else None
        if target is not None:
            target.unlink(missing_ok=True)

    def path_of(self, source: str, last: dict[str, Any] | None = None) -> Path | None:
        """Where ``source`` (a relative path or ``upload://NAME``) is, confined to its folder
        (``last``: the last ingest's record, when read already)."""
        if source.startswith(UPLOAD_SCHEME):
            return _inside(self.root / UPLOADS, source[len(UPLOAD_SCHEME):])
        last = last or self.last_ingest()
        return _inside(Path(last["folder"]), source) if last else None

    def original(self, record: FileRecord) -> Original:
        """The file behind ``record`` now: the same bytes (by size and time, else by hash), changed or gone."""
        last = None if record.source.startswith(UPLOAD_SCHEME) else self.last_ingest()
        if not record.source.startswith(UPLOAD_SCHEME) and last is None:
            return Original(None, "unrecorded")
        path = self.path_of(record.source, last)
        if path is None or not path.is_file():
            return Original(None, "missing")
        stat = path.stat()
        if stat.st_size == record.size and stat.st_mtime_ns == record.mtime_ns:
            return Original(path, "same")
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return Original(path, "same" if digest.hexdigest() == record.sha256 else "changed")
