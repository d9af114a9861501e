"""The one place that builds foldrag's objects from settings."""

from __future__ import annotations

from rag.embedders import BUNDLED_EMBEDDERS, Embedder, SentenceTransformerEmbedder
from rag.generation.base import Generator
from rag.retrieval.tokenize import KeywordTokenizer
from rag.service import Foldrag
from rag.settings import Settings

# What the bundled embedders understand; a local model is assumed multilingual unless configured.
BUNDLED_LANGUAGES = {"bundled:all-MiniLM-L6-v2": ("en",)}


def build_embedder(settings: Settings) -> Embedder:
    cfg = settings.embedding
    return SentenceTransformerEmbedder.load(
        cfg.model, device=cfg.device, dtype=cfg.dtype, batch_size=cfg.batch_size
    )


def embedder_languages(settings: Settings) -> tuple[str, ...]:
    if settings.embedding.languages is not None:
        return tuple(settings.embedding.languages)
    if settings.embedding.model in BUNDLED_EMBEDDERS:
        return BUNDLED_LANGUAGES.get(settings.embedding.model, ("*",))
    return ("*",)


def build_reranker(settings: Settings):
    cfg = settings.retrieval
    if not cfg.reranker_model:
        return None
    from rag.retrieval.rerank import CrossEncoderReranker

    return CrossEncoderReranker.load(cfg.reranker_model, threshold=cfg.rerank_threshold)


def build_rag(settings: Settings, embedder: Embedder | None = None, generator: Generator | None = None) -> Foldrag:
    """Wire a ``Foldrag`` for ``settings``; models load lazily, on first use."""
    return Foldrag(
        settings,
        embedder_factory=(lambda: embedder) if embedder else (lambda: build_embedder(settings)),
        tokenizer=KeywordTokenizer(),
        generator_factory=lambda: generator,
        reranker_factory=lambda: build_reranker(settings),
        embedder_languages=embedder_languages(settings),
    )
