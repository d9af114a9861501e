"""Question answering: condense a follow-up, retrieve, pack sources, generate, cite.

Example::

    answerer = rag.answerer()
    answer = answerer.ask("What does RRF do?")
    print(answer.answer, [c.source for c in answer.citations])
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from rag.core.errors import InvalidInput
from rag.generation.attribution import infer_citations
from rag.generation.citations import Citation, clean_citations
from rag.generation.prompting import build_messages, condense_messages, pack_context
from rag.generation.thinking import ThinkSplitter
from rag.core.settings import GenerationSettings


@dataclass(frozen=True)
class Answer:
    answer: str
    reasoning: str
    citations: tuple[Citation, ...]
    queries: tuple[str, ...]
    timings: dict[str, float]
    question: str = ""
    standalone_question: str = ""
    citation_method: str = "model"  # model: [n] written by the LLM; inferred: attributed by overlap; none
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"answer": self.answer, "reasoning": self.reasoning,
                "citations": [c.to_json() for c in self.citations], "citation_method": self.citation_method,
                "queries": list(self.queries),
                "timings": {k: round(v, 4) for k, v in self.timings.items()}}


@dataclass(frozen=True)
class Event:
    """One step of a streamed answer: queries, sources, token, reasoning or done."""

    kind: str
    data: Any = field(default=None)


class Answerer:
    def __init__(self, rag, generator, settings: GenerationSettings, tokenizer) -> None:
        self._rag = rag
        self._generator = generator
        self._settings = settings
        self._tokenizer = tokenizer  # the keyword tokenizer, for inferred citations

    def ask(self, question: str, *, history: Sequence[dict[str, str]] = (), k: int | None = None,
            mode: str | None = None) -> Answer:
        answer = None
        for event in self.stream(question, history=history, k=k, mode=mode):
            if event.kind == "done":
                answer = event.data
        assert answer is not None
        return answer

    def stream(self, question: str, *, history: Sequence[dict[str, str]] = (), k: int | None = None,
               mode: str | None = None) -> Iterator[Event]:
        """Events in order: queries, sources, token/reasoning (many), done. Closing it stops generation."""
        question = question.strip()
        if not question:
            raise InvalidInput("the question is empty")
        timings: dict[str, float] = {}
        t_start = time.perf_counter()
        standalone = question
        if history:
            t0 = time.perf_counter()
            rewritten = self._generator.generate(condense_messages(question, history), max_tokens=96, temperature=0.0)
            rewritten = rewritten.strip().splitlines()[0].strip() if rewritten.strip() else ""
            standalone = rewritten if len(rewritten) >= 3 else question
            timings["condense_s"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        retrieval = self._rag.retrieve(standalone, k=k, mode=mode)
        timings["retrieve_s"] = time.perf_counter() - t0
        yield Event("queries", list(retrieval.trace.queries))

        window = getattr(self._generator, "context_window", 4096)
        reasoning_budget = self._settings.reasoning_max_tokens if self._generator.preset.reasoning else 0
        budget = min(self._settings.context_tokens, window - self._settings.max_new_tokens - reasoning_budget)
        sources, kept_history = pack_context(question, list(retrieval.hits), self._generator.prompt_tokens,
                                             budget, history)
        yield Event("sources", sources)

        splitter = ThinkSplitter(expects_reasoning=self._generator.preset.reasoning)
        t0 = time.perf_counter()
        first_token = None
        stream = self._generator.stream(build_messages(question, sources, kept_history),
                                        max_tokens=self._settings.max_new_tokens + reasoning_budget,
                                        temperature=self._settings.temperature)
        reasoning_tokens = 0
        try:
            for piece in stream:
                if first_token is None:
                    first_token = time.perf_counter() - t0
                thought, said = splitter.feed(piece)
                if thought:
                    reasoning_tokens += 1
                    yield Event("reasoning", thought)
                    if reasoning_budget and reasoning_tokens >= reasoning_budget and not splitter.answer:
                        break  # the reasoning budget is spent
                if said:
                    yield Event("token", said)
        finally:
            stream.close()
        thought, said = splitter.finish()
        if thought:
            yield Event("reasoning", thought)
        if said:
            yield Event("token", said)
        generate_s = time.perf_counter() - t0
        stats = getattr(self._generator, "last_stats", {}) or {}
        timings.update({"first_token_s": first_token or generate_s, "generate_s": generate_s,
                        "tokens_per_s": float(stats.get("tokens_per_s", 0.0)),
                        "total_s": time.perf_counter() - t_start})
        text, citations = clean_citations(splitter.answer, sources)
        method = "model"
        if not citations and self._settings.infer_citations and sources:
            text, citations = clean_citations(infer_citations(text, sources, self._tokenizer), sources)
            method = "inferred" if citations else "none"
        elif not citations:
            method = "none"
        yield Event("done", Answer(answer=text, reasoning=splitter.reasoning.strip(), citations=tuple(citations),
                                   queries=tuple(retrieval.trace.queries), timings=timings,
                                   question=question, standalone_question=standalone, citation_method=method,
                                   prompt_tokens=int(stats.get("prompt_tokens", 0)),
                                   completion_tokens=int(stats.get("new_tokens", 0))))
