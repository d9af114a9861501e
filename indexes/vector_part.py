"""The vectors part: a FAISS index over the chunk vectors — one file (``vectors.faiss``), or shards.

With ``index.shard_chunks = N`` the rowids are cut into ranges of N (``vectors-00000.faiss`` holds
rowids 1..N, the next N+1..2N, …) and ``vector-shards.json`` lists them with a digest of the chunks
each holds. A shard is built from its own rows only, so no step holds every vector at once; a commit
links a shard from the last generation when its digest and build settings are unchanged (new rows
land in the last ranges, so an ingest at 10M chunks rebuilds a few shards, not the whole index).
Shards load into a ``faiss.IndexShards``, which searches them in parallel and merges the results.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from foldrag.indexes.chunk_store import ChunkStore
from foldrag.indexes.manifest import Manifest
from foldrag.indexes.vector_store import build_faiss, read_faiss, resolve_kind, write_faiss
from foldrag.core.errors import IndexCorrupt
from foldrag.core.settings import IndexSettings

VECTORS = "vectors.faiss"
SHARDS = "vector-shards.json"
# The settings a built FAISS index depends on beyond its kind: a shard is reused only if they match.
_BUILD_FIELDS = ("hnsw_m", "hnsw_ef_search", "ivf_nlist", "ivf_nprobe", "pq_m")


def shard_file(number: int) -> str:
    return f"vectors-{number:05d}.faiss"


class VectorPart:
    name = "vectors"

    def __init__(self, settings: IndexSettings, dimension: int) -> None:
        self.settings = settings
        self.dimension = dimension

    @classmethod
    def for_settings(cls, settings: IndexSettings, *, dimension: int, tokenizer=None) -> "VectorPart":
        return cls(settings, dimension)

    def manifest_entry(self, chunks: int) -> dict[str, Any]:
        entry: dict[str, Any] = {"kind": resolve_kind(self.settings, chunks)}
        if self.settings.shard_chunks:
            entry["shard_chunks"] = self.settings.shard_chunks
        return entry

    def build(self, folder: Path, store: ChunkStore, entry: dict[str, Any], previous: Path | None = None) -> None:
        if not entry.get("shard_chunks"):
            ids, vectors = store.vectors(self.dimension)
            write_faiss(build_faiss(vectors, ids, self.dimension, self.settings, entry["kind"]), folder / VECTORS)
            return
        size = entry["shard_chunks"]
        build = {"kind": entry["kind"], **{f: getattr(self.settings, f) for f in _BUILD_FIELDS}}
        old = _reusable(previous, size, build)
        shards = []
        for number in range((store.max_rowid() + size - 1) // size):
            first, last = number * size + 1, (number + 1) * size
            count, digest = store.rows_digest(first, last)
            if not count:
                continue
            name = shard_file(number)
            if old.get(name) == digest:
                _link(previous / name, folder / name)
            else:
                ids, vectors = store.vectors_between(first, last, self.dimension)
                kind = resolve_kind(self.settings.model_copy(update={"kind": entry["kind"]}), count)
                write_faiss(build_faiss(vectors, ids, self.dimension, self.settings, kind), folder / name)
            shards.append({"file": name, "first": first, "last": last, "chunks": count, "digest": digest})
        (folder / SHARDS).write_text(json.dumps({"shard_chunks": size, "build": build, "shards": shards}, indent=1))

    @staticmethod
    def load(folder: Path, manifest: Manifest):
        if not (folder / SHARDS).exists():
            return read_faiss(folder / VECTORS)
        import faiss

        listing = _listing(folder)
        merged = faiss.IndexShards(manifest.dimension, True, False)  # threaded; ids are the rowids stored
        merged.metric_type = faiss.METRIC_INNER_PRODUCT  # merge by the largest score
        for shard in listing["shards"]:
            merged.add_shard(read_faiss(folder / shard["file"]))
        return merged


def _listing(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / SHARDS).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"cannot read the FAISS shard list {folder / SHARDS}: {exc}") from exc


def _reusable(previous: Path | None, size: int, build: dict[str, Any]) -> dict[str, str]:
    """Shard file → digest of the last generation's shards that were built the way this one builds."""
    if previous is None or not (previous / SHARDS).exists():
        return {}
    listing = _listing(previous)
    if listing.get("shard_chunks") != size or listing.get("build") != build:
        return {}
    return {s["file"]: s["digest"] for s in listing["shards"] if (previous / s["file"]).exists()}


def _link(source: Path, target: Path) -> None:
    """A hard link (generations never change a file in place), or a copy across filesystems."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
