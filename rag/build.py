"""The one place that builds foldrag's objects from settings."""

from __future__ import annotations

from rag.embedders import Embedder, SentenceTransformerEmbedder
from rag.service import Foldrag
from rag.settings import Settings


def build_embedder(settings: Settings) -> Embedder:
    cfg = settings.embedding
    return SentenceTransformerEmbedder.load(
        cfg.model, device=cfg.device, dtype=cfg.dtype, batch_size=cfg.batch_size
    )


def build_rag(settings: Settings, embedder: Embedder | None = None) -> Foldrag:
    """Wire a ``Foldrag`` for ``settings``; models load lazily, on first use."""
    return Foldrag(settings, embedder_factory=(lambda: embedder) if embedder else (lambda: build_embedder(settings)))
