"""FAISS indexes over normalised vectors: exact flat inner product, HNSW or IVF."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from rag.core.settings import IndexSettings


def resolve_kind(settings: IndexSettings, n: int) -> str:
    """The FAISS index kind used for ``n`` vectors: 'auto' is exact flat search below
    ``settings.hnsw_from`` vectors and HNSW from there; IVF needs enough points to train its cells."""
    kind = settings.kind
    if kind == "auto":
        kind = "hnsw" if n >= settings.hnsw_from else "flat"
    if kind == "ivf" and n < 2 * 39:  # too few points to train cells: exact search is better anyway
        kind = "flat"
    return kind


def _flat(dimension: int, n: int, settings: IndexSettings, vectors: np.ndarray):
    import faiss

    return faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))


def _hnsw(dimension: int, n: int, settings: IndexSettings, vectors: np.ndarray):
    import faiss

    base = faiss.IndexHNSWFlat(dimension, settings.hnsw_m, faiss.METRIC_INNER_PRODUCT)
    base.hnsw.efSearch = settings.hnsw_ef_search
    return faiss.IndexIDMap2(base)


def _ivf(dimension: int, n: int, settings: IndexSettings, vectors: np.ndarray):
    import faiss

    nlist = settings.ivf_nlist or max(1, min(int(4 * math.sqrt(n)), n // 39))
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dimension), dimension, nlist, faiss.METRIC_INNER_PRODUCT)
    index.train(vectors)
    index.nprobe = min(settings.ivf_nprobe, nlist)
    return index


# index.kind → an empty (trained) FAISS index that takes ids; a new kind is a function and a line here.
FAISS_KINDS = {"flat": _flat, "hnsw": _hnsw, "ivf": _ivf}


def build_faiss(vectors: np.ndarray, ids: np.ndarray, dimension: int, settings: IndexSettings, kind: str):
    """A FAISS index of ``kind`` (from ``resolve_kind``) holding ``vectors`` under the int64 ``ids``
    (the chunk store's rowids)."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    index = FAISS_KINDS[kind](dimension, len(vectors), settings, vectors)
    if len(vectors):
        index.add_with_ids(vectors, ids)
    return index


def write_faiss(index, path: Path) -> None:
    import faiss

    faiss.write_index(index, str(path))


def read_faiss(path: Path):
    import faiss

    return faiss.read_index(str(path))


def search_faiss(index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(scores, ids)`` of shape (len(queries), k); missing results have id -1."""
    if index.ntotal == 0 or k <= 0:
        empty = np.zeros((len(queries), 0))
        return empty.astype(np.float32), empty.astype(np.int64)
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), min(k, index.ntotal))
