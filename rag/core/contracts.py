"""The contracts between foldrag's parts: embedders, generators and retrievers.

Each is a small ``typing.Protocol``: the whole of what its callers use. Backends are plain classes
that match it (no inheritance), chosen by a string in settings through a registry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from foldrag.core.types import Hit

Messages = list[dict[str, str]]


# Vectors of two runtimes of one embedder (torch fp32, ONNX int8, ...) are interchangeable within this
# bound of cosine similarity over the same texts: mean, and lowest.
MIN_COSINE_MEAN, MIN_COSINE_MIN = 0.99, 0.98


class EmbedderRecipe(Protocol):
    """How another process (a Ray worker) builds the same embedder: small, plain and safe to send."""

    def load(self) -> "Embedder": ...

    def token_length(self) -> Callable[[str], int]:
        """The model's token counter alone (for chunking), without its weights."""
        ...


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors (one row per text)."""

    name: str
    dimension: int
    backend: str  # the runtime that makes the vectors ("torch", "onnx-int8", ...), recorded by an index
    recipe: EmbedderRecipe | None  # how a worker process loads the same; None: it cannot (built here only)

    def embed(self, texts: list[str], *, query: bool = False, urgent: bool | None = None) -> np.ndarray:
        """``query``: the texts are questions (the model's query prompt), else passages. ``urgent``
        (default: as ``query``): a person waits for it — it goes before bulk work (an ingest), as
        an answer's evidence sentences do."""
        ...

    def token_length(self, text: str) -> int: ...

    def bulk_turn(self) -> AbstractContextManager[None]:
        """Bulk work beside the model (an ingest's parsing of one file) runs inside this: while
        queries are being embedded it waits for its share of the machine, so queries keep the CPU."""
        ...


@dataclass(frozen=True)
class GenerationStats:
    """What one generation call cost. Returned with the call (``TextStream.stats``), never stored on
    the generator, so concurrent calls cannot read each other's figures."""

    prompt_tokens: int = 0
    new_tokens: int = 0
    first_token_s: float = 0.0
    total_s: float = 0.0
    engine: str = ""  # which backend (and decode path) produced the text, e.g. "transformers/foldrag-loop"
    cached_tokens: int = 0  # prompt tokens whose attention cache was reused (the shared prefix)
    prefill_work: float = 1.0  # share of a full prefill's work the prompt cost (1.0: nothing reused)

    @property
    def computed_tokens(self) -> int:
        """Prompt tokens computed (not taken from a cache)."""
        return self.prompt_tokens - self.cached_tokens

    @property
    def prefill_saved_s(self) -> float:
        """Estimated time the reuse saved before the first token: this prompt's own rate of work
        applied to the work not done."""
        if self.prefill_work >= 1.0 or self.prefill_work <= 0.0:
            return 0.0
        return self.first_token_s * (1.0 / self.prefill_work - 1.0)

    @property
    def tokens_per_s(self) -> float:
        """Decode speed after the first token (the prompt's cost is in ``first_token_s``)."""
        decode_s = self.total_s - self.first_token_s
        return (self.new_tokens - 1) / decode_s if self.new_tokens > 1 and decode_s > 0 else 0.0


class TextStream:
    """The text of one generation call, piece by piece.

    Iterating yields text pieces — never a partial multi-byte character. ``close()`` cancels the
    generation (the model stops). ``stats`` is set once the stream has ended or was closed; the
    stream times the call itself (from the first request for a piece), so a backend reports only
    its counts, by calling ``finish`` in its ``finally``::

        def produce(stream):
            try: yield from pieces
            finally: stream.finish(prompt_tokens=n, new_tokens=m, engine="my-engine")
        return TextStream(produce)
    """

    def __init__(self, produce: Callable[["TextStream"], Iterator[str]]) -> None:
        self.stats: GenerationStats | None = None
        self._pieces = produce(self)
        self._start: float | None = None
        self._first: float | None = None

    def __iter__(self) -> "TextStream":
        return self

    def __next__(self) -> str:
        if self._start is None:
            self._start = time.perf_counter()
        piece = next(self._pieces)
        if self._first is None:
            self._first = time.perf_counter() - self._start
        return piece

    def close(self) -> None:
        self._pieces.close()

    def finish(self, *, prompt_tokens: int, new_tokens: int, engine: str, cached_tokens: int = 0,
               prefill_work: float = 1.0) -> None:
        total = time.perf_counter() - self._start if self._start is not None else 0.0
        self.stats = GenerationStats(prompt_tokens=prompt_tokens, new_tokens=new_tokens,
                                     first_token_s=self._first if self._first is not None else total,
                                     total_s=total, engine=engine, cached_tokens=cached_tokens,
                                     prefill_work=prefill_work)

    def text(self) -> str:
        """Read the whole stream (and close it)."""
        try:
            return "".join(self)
        finally:
            self.close()


class Generator(Protocol):
    """A chat model behind any backend (transformers, llama.cpp, an OpenAI-compatible server).

    ``reasoning``: the model thinks first, in ``<think>…</think>``; a backend whose server returns the
    thinking apart (``reasoning_content``) streams it wrapped in those tags, so one splitter separates
    it on every backend.
    """

    name: str
    context_window: int  # prompt + answer tokens the model can attend to
    reasoning: bool

    def prompt_tokens(self, messages: Messages) -> int:
        """Tokens of ``messages`` as the model will read them (its chat template applied)."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens of a plain text (no template, no special tokens)."""
        ...

    def stream(self, messages: Messages, *, max_tokens: int = 256, temperature: float | None = None,
               stop: tuple[str, ...] = ()) -> TextStream:
        """Start generating; ``temperature=None`` is the model preset's default."""
        ...

    def cache_stats(self) -> dict[str, float]:
        """The backend's reusable attention caches (the shared-prefix cache): ``entries``, ``bytes``,
        ``limit_bytes``, ``hits``, ``misses``; empty when it keeps none."""
        ...


def complete(generator: Generator, messages: Messages, *, max_tokens: int = 256,
             temperature: float | None = None, stop: tuple[str, ...] = ()) -> str:
    """The whole reply of one call: ``stream`` read to its end."""
    return generator.stream(messages, max_tokens=max_tokens, temperature=temperature, stop=stop).text()


class KeywordTokenizer(Protocol):
    """Text → the keyword tokens BM25 indexes and searches (``foldrag.core.tokenize`` has the one
    foldrag uses). ``id`` is recorded by an index; ``searches`` are the ids whose indexes its tokens
    still match."""

    id: str
    searches: frozenset[str]

    def __call__(self, text: str) -> list[str]: ...


class Reranker(Protocol):
    """Re-scores passages against a query (a cross-encoder)."""

    def score(self, query: str, texts: list[str]) -> list[float]:
        """One relevance score per text, higher is better."""
        ...

    def rerank(self, query: str, hits: list[Hit]) -> list[Hit]:
        """``hits`` re-ordered by score (and cut at the threshold, if any)."""
        ...


class Retriever(Protocol):
    """Ranks the chunks of one index snapshot: one list per query, best first, at most ``k`` long.

    Several queries at once (the question and its rewrites), so a retriever can batch them.
    ``name`` is what a retrieval mode and the trace call it ('dense', 'bm25').
    """

    name: str

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]: ...
