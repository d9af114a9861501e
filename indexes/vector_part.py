"""The vectors part: a FAISS index over the chunk vectors (``vectors.faiss``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from indexes.chunk_store import ChunkStore
from indexes.manifest import Manifest
from indexes.vector_store import build_faiss, read_faiss, resolve_kind, write_faiss
from rag.core.settings import IndexSettings

VECTORS = "vectors.faiss"


class VectorPart:
    name = "vectors"

    def __init__(self, settings: IndexSettings, dimension: int) -> None:
        self.settings = settings
        self.dimension = dimension

    @classmethod
    def for_settings(cls, settings: IndexSettings, *, dimension: int, tokenizer=None) -> "VectorPart":
        return cls(settings, dimension)

    def manifest_entry(self, chunks: int) -> dict[str, Any]:
        return {"kind": resolve_kind(self.settings, chunks)}

    def build(self, folder: Path, store: ChunkStore, entry: dict[str, Any]) -> None:
        ids, vectors = store.vectors(self.dimension)
        write_faiss(build_faiss(vectors, ids, self.dimension, self.settings, entry["kind"]), folder / VECTORS)

    @staticmethod
    def load(folder: Path, manifest: Manifest):
        return read_faiss(folder / VECTORS)
