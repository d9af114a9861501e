"""Whether an index generation is what its writer wrote: every file's size and SHA-256 are recorded in
the manifest at commit and checked when the generation is opened.

A missing, truncated or garbled file is found before it is read, and named. What can be rebuilt is:
the vectors and keyword parts are made from the chunk store at every commit, so a writer that
commits again repairs them (``foldrag check --repair``, or the next ingest); a damaged chunk store
is rebuilt by re-ingesting the folder, its embeddings coming from the embedding cache.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
STORE = "chunks.sqlite"


@dataclass(frozen=True)
class Damage:
    file: str  # relative to the generation folder
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.reason}"


def digests(folder: Path) -> dict[str, dict[str, Any]]:
    """Every file of a generation but its manifest: relative path → {"size", "sha256"}."""
    out = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST):
        out[path.relative_to(folder).as_posix()] = {"size": path.stat().st_size, "sha256": _sha256(path)}
    return out


def damage(folder: Path, recorded: dict[str, dict[str, Any]]) -> list[Damage]:
    """What differs from ``recorded`` in ``folder``: files missing, of another size, or another hash.
    A manifest from before checksums (``recorded`` empty) has nothing to compare."""
    found = []
    for name, expected in recorded.items():
        path = folder / name
        if not path.is_file():
            found.append(Damage(name, "missing"))
        elif path.stat().st_size != expected["size"]:
            found.append(Damage(name, f"{path.stat().st_size} bytes, {expected['size']} written"))
        elif _sha256(path) != expected["sha256"]:
            found.append(Damage(name, "content changed since it was written (checksum mismatch)"))
    return found


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(8 << 20):
            digest.update(block)
    return digest.hexdigest()


def store_intact(folder: Path, manifest) -> bool:
    """Whether the chunk store of a generation is as written and opens (SQLite's quick check)."""
    import sqlite3

    if any(d.file == STORE for d in damage(folder, {k: v for k, v in manifest.checksums.items() if k == STORE})):
        return False
    path = folder / STORE
    if not path.is_file():
        return False
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
        try:
            return conn.execute("PRAGMA quick_check").fetchone()[0] == "ok" and \
                conn.execute("SELECT COUNT(*) FROM chunks").fetchone() is not None
        finally:
            conn.close()
    except sqlite3.Error:
        return False
