"""Find the files of a folder to ingest: recursive, glob-filtered, hidden folders skipped, loop-safe."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator
from pathlib import Path

from ingest.parsers import SUPPORTED_SUFFIXES


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


def discover(
    folder: Path, *, include: list[str], exclude: list[str], skip: tuple[Path, ...] = (),
    within: tuple[Path, ...] | None = None,
) -> Iterator[tuple[str, Path]]:
    """Yield ``(relative posix path, absolute path)`` of every supported file, sorted per folder.

    Hidden files and folders (names starting with '.') and the folders in ``skip`` (the index
    itself, when it lives inside the folder) are not entered. Symlinked folders are followed once:
    a folder already seen (same device and inode) is not entered again, so link loops end.
    With ``within`` (the server's allowed roots), a symlink that leads outside them is not followed.
    """
    root = folder.resolve()
    roots = tuple(r.resolve() for r in within) if within is not None else None
    skip_real = {p.resolve() for p in skip}
    seen: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        current = Path(dirpath)
        st = current.stat()
        if (st.st_dev, st.st_ino) in seen:
            dirnames[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(".") and (current / d).resolve() not in skip_real
            and (roots is None or _inside(current / d, roots))
        )
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = current / name
            if path.suffix.lower() not in SUPPORTED_SUFFIXES:
                continue
            if roots is not None and not _inside(path, roots):
                continue
            rel = path.relative_to(root).as_posix()
            if not _matches(rel, include) or _matches(rel, exclude):
                continue
            yield rel, path
