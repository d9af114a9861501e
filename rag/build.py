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


def build_generator(settings: Settings) -> Generator | None:
    if settings.generation.model.lower() == "none":
        return None
    from rag.generation.transformers_backend import TransformersGenerator

    return TransformersGenerator.load(settings.generation)


def build_rag(settings: Settings, embedder: Embedder | None = None, generator: Generator | None = None,
              *, with_generator: bool = False) -> Foldrag:
    """Wire a ``Foldrag`` for ``settings``; models load lazily, on first use.

    The configured LLM is loaded only when ``with_generator`` is true (``ask``, ``multi`` search, the
    server), so ingest and plain search never pay for it.
    """
    if generator is not None:
        generator_factory = lambda: generator  # noqa: E731
    elif with_generator:
        generator_factory = lambda: build_generator(settings)  # noqa: E731
    else:
        generator_factory = lambda: None  # noqa: E731
    return Foldrag(
        settings,
        embedder_factory=(lambda: embedder) if embedder else (lambda: build_embedder(settings)),
        tokenizer=KeywordTokenizer(),
        generator_factory=generator_factory,
        reranker_factory=lambda: build_reranker(settings),
        embedder_languages=embedder_languages(settings),
    )
