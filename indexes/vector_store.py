"""FAISS indexes over normalised vectors: exact flat inner product, HNSW, IVF, or IVF-PQ (compressed:
a few dozen bytes per vector in memory; the retriever re-scores its candidates exactly from the
vectors in the chunk store, on disk)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from foldrag.core.settings import IndexSettings


# IVF-PQ below this many vectors: too few to train 256 codes per sub-quantizer; exact search is cheap there.
PQ_MIN_VECTORS = 256 * 39


def resolve_kind(settings: IndexSettings, n: int) -> str:
    """The FAISS index kind used for ``n`` vectors: 'auto' is exact flat search below
    ``settings.hnsw_from`` vectors, HNSW from there and IVF-PQ from ``settings.ivfpq_from``; IVF and
    IVF-PQ need enough points to train their cells and codes."""
    kind = settings.kind
    if kind == "auto":
        kind = "ivfpq" if n >= settings.ivfpq_from else "hnsw" if n >= settings.hnsw_from else "flat"
    if (kind == "ivf" and n < 2 * 39) or (kind == "ivfpq" and n < PQ_MIN_VECTORS):
        kind = "flat"  # too few points to train: exact search is better anyway
    return kind


def pq_subquantizers(dimension: int, wanted: int) -> int:
    """Sub-quantizers (bytes per vector) of IVF-PQ: ``wanted``, or dimension / 8; a divisor of ``dimension``."""
    m = wanted or max(1, dimension // 8)
    while dimension % m:
        m -= 1
    return m


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


def _ivfpq(dimension: int, n: int, settings: IndexSettings, vectors: np.ndarray):
    import faiss

    nlist = settings.ivf_nlist or max(1, min(int(4 * math.sqrt(n)), n // 39))
    m = pq_subquantizers(dimension, settings.pq_m)
    index = faiss.IndexIVFPQ(faiss.IndexFlatIP(dimension), dimension, nlist, m, 8, faiss.METRIC_INNER_PRODUCT)
    # Training on a sample: FAISS wants ~39-256 points per cell and code; more only costs time.
    sample = max(256 * 39, 64 * nlist)
    if len(vectors) > sample:
        vectors = vectors[np.random.default_rng(0).choice(len(vectors), sample, replace=False)]
    index.train(vectors)
    index.nprobe = min(settings.ivf_nprobe, nlist)
    return index


# index.kind → an empty (trained) FAISS index that takes ids; a new kind is a function and a line here.
FAISS_KINDS = {"flat": _flat, "hnsw": _hnsw, "ivf": _ivf, "ivfpq": _ivfpq}
# Kinds whose scores are approximate codes: the retriever re-scores their candidates exactly.
COMPRESSED_KINDS = frozenset({"ivfpq"})


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


def rescore_exact(store, queries: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(scores, ids)`` of the ``k`` best of each row's candidate ``ids`` (from a compressed index) by
    exact inner product with their vectors in ``store`` (a ChunkStore); missing results have id -1."""
    stored = store.vectors_by_rowids({int(i) for i in ids.ravel() if i >= 0}, queries.shape[1])
    out_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    out_ids = np.full((len(queries), k), -1, dtype=np.int64)
    for row, (query, candidates) in enumerate(zip(queries, ids)):
        known = [int(i) for i in candidates if int(i) in stored]
        if not known:
            continue
        exact = np.stack([stored[i] for i in known]) @ query
        best = np.argsort(-exact)[:k]
        out_scores[row, :len(best)] = exact[best]
        out_ids[row, :len(best)] = np.asarray(known)[best]
    return out_scores, out_ids
