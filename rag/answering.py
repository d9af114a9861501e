"""Question answering: condense a follow-up, retrieve, pack sources, generate, cite.

Example::

    answerer = rag.answerer()
    answer = answerer.ask("What does RRF do?")
    print(answer.answer, [c.source for c in answer.citations])
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence

from foldrag.answer_types import (
    Answer, AnswerEvent, DoneEvent, QueriesEvent, ReasoningEvent, SourcesEvent, StatusEvent, TokenEvent,
)
from foldrag.core.contracts import Generator, complete
from foldrag.core.settings import GenerationSettings
from foldrag.generation.citations import source_citation
from foldrag.generation.extractive import Scorer
from foldrag.generation.grounding import Grounding
from foldrag.generation.guards import LoopGuard
from foldrag.generation.prompting import build_messages, condense_messages, instructions_for, pack_context
from foldrag.generation.thinking import ThinkSplitter
from foldrag.retrieval.hybrid import Retrieval

# (question, k, mode) → the retrieval; k and mode None mean the configured defaults.
Retrieve = Callable[[str, "int | None", "str | None"], Retrieval]


class Answerer:
    """Answers questions with ``generator`` over what ``retrieve`` finds.

    The question is trusted: the caller (the CLI or the HTTP route) has validated it. Without a
    generator (or with ``generation.mode = "quote"``) answers are quoted source sentences.
    """

    def __init__(self, retrieve: Retrieve, generator: Generator | None, settings: GenerationSettings,
                 tokenizer: Callable[[str], list[str]], scorer: Scorer | None = None) -> None:
        self._retrieve = retrieve
        self._generator = generator
        self._settings = settings
        self._grounding = Grounding(tokenizer, infer=settings.infer_citations,
                                    fallback=settings.extractive_fallback, scorer=scorer)

    @property
    def quoting(self) -> bool:
        return self._generator is None or self._settings.mode == "quote"

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
        """Events in order: status, queries, sources, status, token/reasoning (many), done. Closing it
        stops generation."""
        timings: dict[str, float] = {}
        t_start = time.perf_counter()
        standalone = question
        generator = self._generator
        if history and generator is not None:
            yield StatusEvent("condensing")
            t0 = time.perf_counter()
            prompt = condense_messages(question, history, count_tokens=generator.count_tokens,
                                       budget=min(768, self._settings.context_tokens // 2))
            rewritten = complete(generator, prompt, max_tokens=96, temperature=0.0)
            rewritten = rewritten.strip().splitlines()[0].strip() if rewritten.strip() else ""
            standalone = rewritten if len(rewritten) >= 3 else question
            timings["condense_s"] = time.perf_counter() - t0

        yield StatusEvent("retrieving")
        t0 = time.perf_counter()
        retrieval = self._retrieve(standalone, k, mode)
        timings["retrieve_s"] = time.perf_counter() - t0
        yield QueriesEvent(tuple(retrieval.trace.queries))

        if self.quoting:
            sources = list(retrieval.hits)
            numbered = [source_citation(n, hit) for n, hit in enumerate(sources, start=1)]
            yield SourcesEvent(tuple(sources), tuple(numbered))
            yield StatusEvent("quoting")
            t0 = time.perf_counter()
            grounded = self._grounding.quote(standalone, sources, numbered)
            yield TokenEvent(grounded.text)
            elapsed = time.perf_counter() - t0
            timings.update({"first_token_s": elapsed, "generate_s": elapsed, "tokens_per_s": 0.0,
                            "total_s": time.perf_counter() - t_start})
            yield DoneEvent(Answer(answer=grounded.text, reasoning="", citations=grounded.citations,
                                   queries=tuple(retrieval.trace.queries), timings=timings, question=question,
                                   standalone_question=standalone, citation_method=grounded.method,
                                   engine="extractive", model="none"))
            return

        settings = self._settings
        reasoning_budget = settings.reasoning_max_tokens if generator.reasoning else 0
        budget = min(settings.context_tokens,
                     generator.context_window - settings.max_new_tokens - reasoning_budget)
        sources, kept_history = pack_context(question, list(retrieval.hits), generator.prompt_tokens,
                                             generator.count_tokens, budget, history)
        numbered = [source_citation(n, hit) for n, hit in enumerate(sources, start=1)]
        yield SourcesEvent(tuple(sources), tuple(numbered))
        yield StatusEvent("generating")

        splitter = ThinkSplitter(expects_reasoning=generator.reasoning)
        guard = LoopGuard()
        t0 = time.perf_counter()
        first_token = None
        stream = generator.stream(build_messages(question, sources, kept_history),
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
                    if guard.feed(said):
                        break  # the answer runs in a loop: the rest would be more of it
        finally:
            stream.close()
        if not guard.looped:
            thought, said = splitter.finish()
            if thought:
                yield ReasoningEvent(thought)
            if said:
                yield TokenEvent(said)
                guard.feed(said)
        generate_s = time.perf_counter() - t0
        stats = stream.stats
        timings.update({"first_token_s": first_token or generate_s, "generate_s": generate_s,
                        "tokens_per_s": stats.tokens_per_s if stats else 0.0,
                        "total_s": time.perf_counter() - t_start})
        text = guard.text if guard.looped else splitter.answer
        grounded = self._grounding.ground(text, question, instructions_for(question), sources, numbered)
        yield DoneEvent(Answer(answer=grounded.text, reasoning=splitter.reasoning.strip(),
                               citations=grounded.citations,
                               queries=tuple(retrieval.trace.queries), timings=timings,
                               question=question, standalone_question=standalone, citation_method=grounded.method,
                               prompt_tokens=stats.prompt_tokens if stats else 0,
                               completion_tokens=stats.new_tokens if stats else 0,
                               engine=stats.engine if stats else "", model=generator.name,
                               looped=guard.looped, echoed=grounded.echoed))
