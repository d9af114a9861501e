"""Find the files of a folder to ingest: recursive, glob-filtered, hidden folders skipped, loop-safe,
regular files only, links kept inside the folder — and every entry skipped for a reason reported.

Example::

    for entry in discover(folder, include=["**/*"], exclude=[]):
        print(entry.rel, entry.problem or "ok")
"""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from foldrag.ingest.parsers import SUPPORTED_SUFFIXES

_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"))


@dataclass(frozen=True)
class Entry:
    rel: str  # relative posix path (a folder's ends with "/")
    path: Path
    problem: str | None = None  # why it is not read; None for a file to ingest


def _matches(rel: str, patterns: list[str]) -> bool:
    for pattern in patterns:
        if fnmatch.fnmatchcase(rel, pattern):
            return True
        # "**/x" also matches "x" at the top of the folder
        if pattern.startswith("**/") and fnmatch.fnmatchcase(rel, pattern[3:]):
            return True
    return False


def _inside(path: Path, roots: tuple[Path, ...]) -> bool:
    real = path.resolve()
    return any(real == root or real.is_relative_to(root) for root in roots)


def not_regular(mode: int) -> str | None:
    """What a non-regular file is ("a FIFO", "a character device", …), or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return next((f"not a regular file ({name})" for test, name in _KINDS if test(mode)), "not a regular file")


def discover(
    folder: Path, *, include: list[str], exclude: list[str], skip: tuple[Path, ...] = (),
    within: tuple[Path, ...] | None = None, follow_links: bool = False,
    suffixes: frozenset[str] = SUPPORTED_SUFFIXES,
) -> Iterator[Entry]:
    """Every supported file, sorted per folder, and every entry that is skipped with its reason.

    Hidden files and folders (names starting with '.') and the folders in ``skip`` (the index
    itself, when it lives inside the folder) are passed over silently, as are files of unsupported
    types. Reported as skipped: links that lead out of ``folder`` (unless ``follow_links``), broken
    links, anything not a regular file (FIFO, device, socket), folders that cannot be read, and with
    ``within`` (the server's allowed roots) anything that resolves outside them. A folder already
    seen (same device and inode) is not entered again, so link loops end.
    """
    root = folder.resolve()
    bounds = (root,) if not follow_links else None
    roots = tuple(r.resolve() for r in within) if within is not None else None
    skip_real = {p.resolve() for p in skip}
    seen: set[tuple[int, int]] = set()
    unreadable: list[OSError] = []

    def relative(path: Path) -> str:
        return path.relative_to(root).as_posix()

    def wanted(rel: str) -> bool:
        return _matches(rel, include) and not _matches(rel, exclude)

    for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=unreadable.append):
        while unreadable:
            error = unreadable.pop(0)
            if error.filename and Path(error.filename) != root:
                yield Entry(relative(Path(error.filename)) + "/", Path(error.filename),
                            f"unreadable folder: {error.strerror or error}")
        current = Path(dirpath)
        st = current.stat()
        if (st.st_dev, st.st_ino) in seen:
            dirnames[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        kept = []
        for d in sorted(dirnames):
            path = current / d
            if d.startswith(".") or path.resolve() in skip_real:
                continue
            rel = relative(path) + "/"
            if _matches(rel, exclude) or _matches(rel[:-1], exclude):
                continue
            problem = _link_problem(path, "folder", bounds, roots)
            if problem:
                yield Entry(rel, path, problem)
                continue
            kept.append(d)
        dirnames[:] = kept
        for name in sorted(filenames):
            path = current / name
            if name.startswith(".") or path.suffix.lower() not in suffixes:
                continue
            rel = relative(path)
            if not wanted(rel):
                continue
            problem = _link_problem(path, "file", bounds, roots)
            if problem is None:
                try:
                    problem = not_regular(path.stat().st_mode)
                except OSError as exc:
                    problem = f"unreadable: {exc.strerror or exc}"
            yield Entry(rel, path, problem)
    for error in unreadable:
        yield Entry(relative(Path(error.filename)) + "/", Path(error.filename), f"unreadable folder: {error.strerror or error}")


def _link_problem(path: Path, what: str, bounds: tuple[Path, ...] | None, roots: tuple[Path, ...] | None) -> str | None:
    if path.is_symlink():
        try:
            path.resolve(strict=True)
        except (OSError, RuntimeError):
            return "broken link"
        if bounds is not None and not _inside(path, bounds):
            return f"link to a {what} outside the ingested folder (--follow-links follows it)"
    if roots is not None and not _inside(path, roots):
        return "leads outside the allowed roots (server.allowed_roots)"
    return None
