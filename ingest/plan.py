"""What an ingest has to do: the folder walked and compared with the committed index, by stat only.

The plan is made on the driver and shared by every ingest engine; engines only read, parse, chunk
and embed the files the plan lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from foldrag.indexes.chunk_store import FileRecord
from foldrag.ingest.parsers import ingested_suffixes
from foldrag.ingest.walk import discover
from foldrag.core.errors import NotFound
from foldrag.core.settings import IngestSettings
from foldrag.core.types import FailedFile

# Sources of uploaded documents start with this; a folder's relative paths never contain "//",
# so a folder ingest can tell its own files from uploads and never removes the latter.
UPLOAD_SCHEME = "upload://"


@dataclass(frozen=True)
class FileTask:
    """A file to read: new, or changed by size or mtime since it was indexed."""

    source: str  # path relative to the folder, with forward slashes
    path: Path
    size: int
    mtime_ns: int
    previous_sha256: str | None = None  # its content hash in the index; None for a new file


@dataclass(frozen=True)
class IngestPlan:
    tasks: tuple[FileTask, ...]
    seen: int  # files found in the folder (after include/exclude)
    unchanged: int  # same size and mtime as indexed: not read at all
    removed: tuple[str, ...]  # indexed sources no longer in the folder
    failed: tuple[FailedFile, ...]  # entries refused before reading (too large, not a file, a link out…)


def plan_folder(folder: Path, known: dict[str, FileRecord], settings: IngestSettings, *,
                skip: tuple[Path, ...] = (), within: tuple[Path, ...] | None = None) -> IngestPlan:
    """Compare ``folder`` with ``known`` (source → record of the committed index).

    Uploaded documents are never planned for removal. Raises NotFound for a missing folder.
    """
    if not folder.is_dir():
        raise NotFound(f"folder not found: {folder}")
    failed: list[FailedFile] = []
    tasks: list[FileTask] = []
    seen: set[str] = set()
    unchanged = 0
    limit = int(settings.max_file_mb * 1024 * 1024)
    for entry in discover(folder, include=settings.include, exclude=settings.exclude, skip=skip, within=within,
                          follow_links=settings.follow_links, suffixes=ingested_suffixes(settings.ocr)):
        rel, path = entry.rel, entry.path
        if entry.problem:
            failed.append(FailedFile(rel, entry.problem))
            continue
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
        tasks.append(FileTask(rel, path, stat.st_size, stat.st_mtime_ns, previous.sha256 if previous else None))
    removed = tuple(sorted(s for s in set(known) - seen if not s.startswith(UPLOAD_SCHEME)))
    return IngestPlan(tasks=tuple(tasks), seen=len(seen), unchanged=unchanged, removed=removed, failed=tuple(failed))
