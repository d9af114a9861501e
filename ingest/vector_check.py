"""Vectors of another embedding runtime join an index only when they match what it holds.

An index records the runtime that made its vectors (``Manifest.embedder_backend``: "torch",
"onnx-int8", ...). When an ingest embeds with another one — a new machine's measured choice, or a
changed ``embedding.backend`` — a sample of the stored chunks is embedded again and compared; below
the bound the ingest stops with IndexMismatch (as for a different embedder) instead of mixing.
"""

from __future__ import annotations

import numpy as np

from foldrag.indexes.folder import IndexWriter
from foldrag.ingest.chunking import embedding_text
from foldrag.core.contracts import MIN_COSINE_MEAN, MIN_COSINE_MIN, Embedder
from foldrag.core.errors import IndexMismatch

SAMPLE = 32


def check_runtime(writer: IndexWriter, embedder: Embedder, embed_headers: bool) -> None:
    """Raise IndexMismatch when ``embedder``'s vectors are not within the bound of those the index of
    ``writer`` holds (made by the runtime its manifest records; "" means torch, before foldrag
    recorded it)."""
    if writer.base_manifest is None:
        return
    recorded = writer.base_manifest.embedder_backend or "torch"
    if embedder.backend == recorded:
        return
    store = writer.committed_store()
    if store is None:
        return
    try:
        sample = store.sample(SAMPLE, embedder.dimension)
    finally:
        store.close()
    if not sample:
        return
    fresh = embedder.embed([embedding_text(chunk, embed_headers) for chunk, _ in sample])
    cosines = np.sum(fresh * np.stack([vector for _, vector in sample]), axis=1)
    if cosines.mean() < MIN_COSINE_MEAN or cosines.min() < MIN_COSINE_MIN:
        raise IndexMismatch(
            f"this index's vectors were made by {recorded}; {embedder.backend} vectors differ from them "
            f"(cosine mean {cosines.mean():.3f}, min {cosines.min():.3f} on {len(sample)} chunks; needed "
            f"{MIN_COSINE_MEAN}/{MIN_COSINE_MIN}): set embedding.backend to match, or re-embed into a new --index folder"
        )
