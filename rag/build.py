"""The one place that builds foldrag's objects from settings."""

from __future__ import annotations

from pathlib import Path

from foldrag.core.contracts import Embedder
from foldrag.embedders import BUNDLED_EMBEDDERS, SentenceTransformerEmbedder
from foldrag.core.errors import InvalidInput
from foldrag.core.contracts import Generator
from foldrag.core.lazy import MODEL_BUILDING, Once
from foldrag.core.tokenize import KeywordTokenizer
from foldrag.service import Foldrag
from foldrag.core.settings import Settings

# What the bundled embedders understand; a local model is assumed multilingual unless configured.
BUNDLED_LANGUAGES = {"bundled:all-MiniLM-L6-v2": ("en",)}


def build_embedder(settings: Settings) -> Embedder:
    cfg = settings.embedding
    with MODEL_BUILDING:
        return SentenceTransformerEmbedder.load(
            cfg.model, device=cfg.device, dtype=cfg.dtype, batch_size=cfg.batch_size, backend=cfg.backend,
            quantize=cfg.quantize,
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
    from foldrag.retrieval.rerank import CrossEncoderReranker

    with MODEL_BUILDING:
        return CrossEncoderReranker.load(cfg.reranker_model, threshold=cfg.rerank_threshold)


def build_generator(settings: Settings) -> Generator | None:
    if settings.generation.model.lower() == "none":
        return None
    from foldrag.generation.backends import load_generator

    with MODEL_BUILDING:
        return load_generator(settings.generation)


def build_rag(settings: Settings, embedder: Embedder | None = None, generator: Generator | None = None,
              *, with_generator: bool = False, tokenizer: KeywordTokenizer | None = None) -> Foldrag:
    """Wire a ``Foldrag`` for ``settings``; models load lazily, on first use.

    The configured LLM is loaded only when ``with_generator`` is true (``ask``, ``multi`` search, the
    server), so ingest and plain search never pay for it.
    """
    paths = {settings.index.path.name: settings.index.path}
    [rag] = build_collections(settings, paths, embedder, generator, with_generator=with_generator,
                              tokenizer=tokenizer).values()
    return rag


def collection_paths(settings: Settings, indexes: list[Path] | None = None) -> dict[str, Path]:
    """Collection name → index folder: ``server.collections`` when set, else the given folders
    (or ``index.path``), each named after its folder. Raises InvalidInput on a repeated name."""
    if settings.server.collections and not indexes:
        return dict(settings.server.collections)
    named: dict[str, Path] = {}
    for path in indexes or [settings.index.path]:
        name = path.resolve().name
        if name in named:
            raise InvalidInput(f"two index folders are both named {name!r}; name them in server.collections")
        named[name] = path
    return named


def build_collections(settings: Settings, paths: dict[str, Path], embedder: Embedder | None = None,
                      generator: Generator | None = None, *, with_generator: bool = True,
                      tokenizer: KeywordTokenizer | None = None) -> dict[str, Foldrag]:
    """One ``Foldrag`` per collection, sharing one embedder, one generator, one reranker and one
    keyword tokenizer; each model loads on first use. ``with_generator=False`` never loads the LLM.
    Objects passed in (models, the tokenizer) are used as they are."""
    shared_embedder = Once(lambda: embedder if embedder is not None else build_embedder(settings))
    if generator is not None or not with_generator:
        shared_generator = Once(lambda: generator)
    else:
        shared_generator = Once(lambda: build_generator(settings))
    shared_reranker = Once(lambda: build_reranker(settings))
    tokenizer = tokenizer or KeywordTokenizer()
    rags = {}
    for name, path in paths.items():
        own = settings.model_copy(update={"index": settings.index.model_copy(update={"path": Path(path)})})
        rags[name] = Foldrag(own, embedder_factory=shared_embedder, tokenizer=tokenizer,
                             generator_factory=shared_generator, reranker_factory=shared_reranker,
                             embedder_languages=embedder_languages(settings))
    return rags
