"""The ingest engine seam: what reads, parses, chunks and embeds the files of a plan.

``ingest.engine`` names one in ``ENGINES``. A new engine (as ``ingest/ray_engine.py``) is one file with a
class that has ``create(settings: IngestSettings)`` and ``process(tasks, work)``, plus one line
here; planning what changed and applying the results (the commit) stay on the driver, shared.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from foldrag.indexes.embedding_cache import EmbeddingCache, text_key
from foldrag.ingest.outcomes import Indexed, Outcome, Parsed, Working
from foldrag.ingest.plan import FileTask
from foldrag.core.contracts import Embedder
from foldrag.core.plugins import Plugin, load_plugin
from foldrag.core.settings import IngestSettings


@dataclass(frozen=True)
class Work:
    """What an engine needs besides the tasks."""

    embedder: Embedder
    settings: IngestSettings
    embed_headers: bool
    keyword_tokenizer: Callable[[str], list[str]] | None  # None: the index has no BM25 part
    cache: EmbeddingCache  # the resumable embedding cache of this index's writer (on the driver)


class IngestEngine(Protocol):
    def process(self, tasks: Sequence[FileTask], work: Work) -> Iterator[Outcome | Working]:
        """One outcome per task, in any order (and, if it likes, ``Working`` notes on a long file
        between them, for the progress). Closing the iterator stops the work."""
        ...


ENGINES: dict[str, Plugin] = {
    "local": Plugin("foldrag.ingest.local_engine", "LocalEngine", "part of foldrag"),
    "ray": Plugin("foldrag.ingest.ray_engine", "RayEngine", "pip install 'foldrag[ray]'"),
}


def create_engine(settings: IngestSettings) -> IngestEngine:
    return load_plugin("foldrag.ingest.engine", settings.engine, ENGINES[settings.engine]).create(settings)


def by_file(files: Sequence[Parsed], vectors: np.ndarray, fresh: int) -> list[Indexed]:
    """A group's ``vectors`` (rows in the order of its files' chunks) cut back into one outcome per
    file; the group's count of freshly embedded chunks goes with its first file."""
    out, offset = [], 0
    for n, item in enumerate(files):
        size = len(item.chunks)
        out.append(item.embedded(vectors[offset:offset + size], fresh if n == 0 else 0))
        offset += size
    return out


def vectors_with_cache(texts: list[str], embedder: Embedder, cache: EmbeddingCache, group: int) -> tuple[np.ndarray, int]:
    """Vectors for ``texts``: from the cache where present, else embedded and cached group by group
    (each group committed at once, so a killed run keeps it). Returns (vectors, how many were embedded)."""
    if not texts:
        return np.zeros((0, embedder.dimension), np.float32), 0
    keys = [text_key(embedder.name, t) for t in texts]
    found = cache.get_many(keys)
    missing = list(dict.fromkeys(t for t, k in zip(texts, keys) if k not in found))
    for begin in range(0, len(missing), group):
        part = missing[begin : begin + group]
        fresh = {text_key(embedder.name, t): v for t, v in zip(part, embedder.embed(part))}
        cache.put_many(fresh)
        found.update(fresh)
    return np.stack([found[k] for k in keys]), len(missing)
