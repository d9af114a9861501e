"""Question answering: condense a follow-up, retrieve, pack sources, generate, cite.

Example::

    answerer = rag.answerer()
    answer = answerer.ask("What does RRF do?")
    print(answer.answer, [c.source for c in answer.citations])
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence

from rag.answer_types import Answer, AnswerEvent, DoneEvent, QueriesEvent, ReasoningEvent, SourcesEvent, TokenEvent
from rag.core.contracts import Generator, complete
from rag.core.settings import GenerationSettings
from rag.generation.attribution import infer_citations
from rag.generation.citations import clean_citations, source_citation
from rag.generation.prompting import build_messages, condense_messages, pack_context
from rag.generation.thinking import ThinkSplitter
from rag.retrieval.hybrid import Retrieval

# (question, k, mode) → the retrieval; k and mode None mean the configured defaults.
Retrieve = Callable[[str, "int | None", "str | None"], Retrieval]


class Answerer:
    """Answers questions with ``generator`` over what ``retrieve`` finds.

    The question is trusted: the caller (the CLI or the HTTP route) has validated it.
    """

    def __init__(self, retrieve: Retrieve, generator: Generator, settings: GenerationSettings,
                 tokenizer: Callable[[str], list[str]]) -> None:
        self._retrieve = retrieve
        self._generator = generator
        self._settings = settings
        self._tokenizer = tokenizer  # the keyword tokenizer, for inferred citations

    def ask(self, question: str, *, history: Sequence[dict[str, str]] = (), k: int | None = None,
            mode: str | None = None) -> Answer:
        stream = self.stream(question, history=history, k=k, mode=mode)
        try:
            for event in stream:
                if isinstance(event, DoneEvent):
                    return event.answer
        finally:
            stream.close()
        raise AssertionError("an answer stream ends with a DoneEvent")

    def stream(self, question: str, *, history: Sequence[dict[str, str]] = (), k: int | None = None,
               mode: str | None = None) -> Iterator[AnswerEvent]:
        """Events in order: queries, sources, token/reasoning (many), done. Closing it stops generation."""
        timings: dict[str, float] = {}
        t_start = time.perf_counter()
        standalone = question
        if history:
            t0 = time.perf_counter()
            rewritten = complete(self._generator, condense_messages(question, history), max_tokens=96, temperature=0.0)
            rewritten = rewritten.strip().splitlines()[0].strip() if rewritten.strip() else ""
            standalone = rewritten if len(rewritten) >= 3 else question
            timings["condense_s"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        retrieval = self._retrieve(standalone, k, mode)
        timings["retrieve_s"] = time.perf_counter() - t0
        yield QueriesEvent(tuple(retrieval.trace.queries))

        settings = self._settings
        reasoning_budget = settings.reasoning_max_tokens if self._generator.reasoning else 0
        budget = min(settings.context_tokens,
                     self._generator.context_window - settings.max_new_tokens - reasoning_budget)
        sources, kept_history = pack_context(question, list(retrieval.hits), self._generator.prompt_tokens,
                                             self._generator.count_tokens, budget, history)
        numbered = [source_citation(n, hit) for n, hit in enumerate(sources, start=1)]
        yield SourcesEvent(tuple(sources), tuple(numbered))

        splitter = ThinkSplitter(expects_reasoning=self._generator.reasoning)
        t0 = time.perf_counter()
        first_token = None
        stream = self._generator.stream(build_messages(question, sources, kept_history),
                                        max_tokens=settings.max_new_tokens + reasoning_budget,
                                        temperature=settings.temperature)
        reasoning_pieces = 0
        try:
            for piece in stream:
                if first_token is None:
                    first_token = time.perf_counter() - t0
                thought, said = splitter.feed(piece)
                if thought:
                    reasoning_pieces += 1
                    yield ReasoningEvent(thought)
                    if reasoning_budget and reasoning_pieces >= reasoning_budget and not splitter.answer:
                        break  # the reasoning budget is spent
                if said:
                    yield TokenEvent(said)
        finally:
            stream.close()
        thought, said = splitter.finish()
        if thought:
            yield ReasoningEvent(thought)
        if said:
            yield TokenEvent(said)
        generate_s = time.perf_counter() - t0
        stats = stream.stats
        timings.update({"first_token_s": first_token or generate_s, "generate_s": generate_s,
                        "tokens_per_s": stats.tokens_per_s if stats else 0.0,
                        "total_s": time.perf_counter() - t_start})
        text, citations = clean_citations(splitter.answer, numbered)
        method = "model"
        if not citations and settings.infer_citations and sources:
            text, citations = clean_citations(infer_citations(text, sources, self._tokenizer), numbered)
            method = "inferred" if citations else "none"
        elif not citations:
            method = "none"
        yield DoneEvent(Answer(answer=text, reasoning=splitter.reasoning.strip(), citations=tuple(citations),
                               queries=tuple(retrieval.trace.queries), timings=timings,
                               question=question, standalone_question=standalone, citation_method=method,
                               prompt_tokens=stats.prompt_tokens if stats else 0,
                               completion_tokens=stats.new_tokens if stats else 0,
                               engine=stats.engine if stats else "", model=self._generator.name))
