"""The one place that builds foldrag's objects from settings: models, retrievers, answerers, collections."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from foldrag.across_collections import AcrossCollections
from foldrag.answering.answerer import Answerer
from foldrag.core.contracts import Embedder, Generator, KeywordTokenizer as Tokenizer, Reranker
from foldrag.core.errors import InvalidInput, ModelUnavailable
from foldrag.core.lazy import MODEL_BUILDING, Once
from foldrag.core.settings import Settings
from foldrag.core.tokenize import KeywordTokenizer
from foldrag.embedders import BUNDLED_EMBEDDERS, MINILM, SentenceTransformerEmbedder
from foldrag.embedding.choice import embedding_model
from foldrag.generation.grounding import Grounding
from foldrag.indexes.folder import IndexSnapshot
from foldrag.retrieval.dense import DenseRetriever
from foldrag.retrieval.hybrid import HybridRetriever, Weighted, fusion_of
from foldrag.retrieval.keyword import KeywordRetriever
from foldrag.retrieval.multi_query import QueryRewriter, Rewrites
from foldrag.service import Foldrag

# Answers in flight at once to a model server (backend 'openai') unless server.max_concurrent_generations
# says otherwise: vLLM batches that many and more; Ollama queues what exceeds OLLAMA_NUM_PARALLEL.
SERVER_GENERATIONS = 256


def concurrent_generations(settings: Settings) -> int:
    """``server.max_concurrent_generations``, or for 0: 1 with a model in this process, many with a server."""
    if settings.server.max_concurrent_generations:
        return settings.server.max_concurrent_generations
    from foldrag.generation.backends import resolve_backend

    return SERVER_GENERATIONS if resolve_backend(settings.generation) == "openai" else 1


# What the bundled embedders understand; a local model is assumed multilingual unless configured.
BUNDLED_LANGUAGES = {MINILM: ("en",)}


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


def build_reranker(settings: Settings) -> Reranker | None:
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


def build_answerer(settings: Settings, generator: Callable[[], Generator | None], tokenizer: Tokenizer,
                   reranker: Callable[[], Reranker | None]) -> Answerer:
    """The answer stages' runner: with the configured model (loaded here), or quoting when
    ``generation.mode`` is 'quote'. Raises ModelUnavailable when answers need a model and none is set."""
    cfg = settings.generation
    quoting = cfg.mode == "quote"
    model = None if quoting else generator()
    if model is None and not quoting:
        raise ModelUnavailable("no generation model is configured (generation.model = 'none'); "
                               "set generation.mode = 'quote' for answers quoted from the sources")
    rerank = reranker()
    grounding = Grounding(tokenizer, infer=cfg.infer_citations, fallback=cfg.extractive_fallback,
                          scorer=rerank.score if rerank is not None else None)
    return Answerer(model, cfg, grounding)


def build_retriever(settings: Settings, snapshot: IndexSnapshot, *, embedder: Embedder, tokenizer: Tokenizer,
                    reranker: Reranker | None, rewrite: Callable[[str], Rewrites]) -> HybridRetriever:
    """The retrieval over one snapshot: dense (idle for a language the embedder does not know), BM25
    when the index has it, the configured fusion, the reranker when configured. IndexMismatch when
    the index was built by another embedder."""
    snapshot.manifest.check(embedder.name, embedder.dimension)
    cfg = settings.retrieval
    dense = DenseRetriever(snapshot, embedder, settings.index.pq_candidates)
    parts = [Weighted(dense, embedder_languages(settings))]
    if snapshot.keyword_index is not None:
        parts.append(Weighted(KeywordRetriever(snapshot, tokenizer, settings.index.bm25_chunk_weight)))
    return HybridRetriever(parts, cfg, rewrite=rewrite, reranker=reranker)


def build_rag(settings: Settings, embedder: Embedder | None = None, generator: Generator | None = None,
              *, with_generator: bool = False, tokenizer: Tokenizer | None = None,
              load_embedder: Callable[[], Embedder] | None = None, reembed: bool = False) -> Foldrag:
    """Wire a ``Foldrag`` for ``settings``; models load lazily, on first use.

    The configured LLM is loaded only when ``with_generator`` is true (``ask``, ``multi`` search, the
    server), so ingest and plain search never pay for it.
    """
    paths = {settings.index.path.name: settings.index.path}
    [rag] = build_collections(settings, paths, embedder, generator, with_generator=with_generator,
                              tokenizer=tokenizer, load_embedder=load_embedder, reembed=reembed).values()
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


class CollectionBuilder:
    """Makes ``Foldrag`` collections that share one embedder, one generator, one reranker, one
    keyword tokenizer and one answerer; each model loads on first use. ``with_generator=False`` never
    loads the LLM. Objects passed in (models, the tokenizer) are used as they are; ``load_embedder``
    replaces the embedder's build (a test's slow or failing load). A server keeps it to add
    collections while it runs."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None, generator: Generator | None = None,
                 *, with_generator: bool = True, tokenizer: Tokenizer | None = None,
                 load_embedder: Callable[[], Embedder] | None = None, reembed: bool = False) -> None:
        self.settings = settings
        self.reembed = reembed  # "auto" picks the default embedder even for an index built with another
        given = load_embedder or ((lambda: embedder) if embedder is not None else None)
        self._given = Once(given) if given is not None else None
        self._embedders: dict[str, Once] = {}  # embedding model → its embedder (one load per model)
        if generator is not None or not with_generator:
            self._generator = Once(lambda: generator)
        else:
            self._generator = Once(lambda: build_generator(settings))
        self._reranker = Once(lambda: build_reranker(settings))
        self._tokenizer = tokenizer or KeywordTokenizer()
        self._rewriter = Once(lambda: QueryRewriter(self._generator(), n=settings.retrieval.multi_queries))
        self._answerer = Once(lambda: build_answerer(settings, self._generator, self._tokenizer, self._reranker))

    def make(self, path: Path) -> Foldrag:
        """The collection whose index folder is ``path``, with its embedding model resolved
        ("auto": the one its index was built with, or the default for a new index)."""
        # An embedder passed in is used as it is (its name is checked against the index when searched).
        model = self.settings.embedding.model if self._given is not None else \
            embedding_model(self.settings.embedding.model, Path(path), reembed=self.reembed)
        own = self.settings.model_copy(update={
            "index": self.settings.index.model_copy(update={"path": Path(path)}),
            "embedding": self.settings.embedding.model_copy(update={"model": model}),
        })
        embedder = self._embedder_for(own)

        def retriever_for(snapshot: IndexSnapshot) -> HybridRetriever:
            return build_retriever(own, snapshot, embedder=embedder(), tokenizer=self._tokenizer,
                                   reranker=self._reranker(), rewrite=lambda question: self._rewriter()(question))

        return Foldrag(own, tokenizer=self._tokenizer, embedder=embedder, generator=self._generator,
                       retriever_for=retriever_for, answerer=self._answerer)

    def _embedder_for(self, settings: Settings) -> Once:
        if self._given is not None:
            return self._given
        model = settings.embedding.model
        if model not in self._embedders:
            self._embedders[model] = Once(lambda: build_embedder(settings))
        return self._embedders[model]


def build_across(settings: Settings, indexes: list[Path], *, with_generator: bool = True) -> AcrossCollections:
    """Several index folders asked as one, each a collection named after its folder, sharing
    their models. InvalidInput for two folders of the same name."""
    paths = collection_paths(settings, indexes)
    return AcrossCollections(build_collections(settings, paths, with_generator=with_generator),
                             fusion_of(settings.retrieval.fusion))


def build_collections(settings: Settings, paths: dict[str, Path], embedder: Embedder | None = None,
                      generator: Generator | None = None, *, with_generator: bool = True,
                      tokenizer: Tokenizer | None = None,
                      load_embedder: Callable[[], Embedder] | None = None,
                      reembed: bool = False) -> dict[str, Foldrag]:
    """One ``Foldrag`` per collection, sharing their models (``CollectionBuilder``)."""
    builder = CollectionBuilder(settings, embedder, generator, with_generator=with_generator, tokenizer=tokenizer,
                                load_embedder=load_embedder, reembed=reembed)
    return {name: builder.make(path) for name, path in paths.items()}
