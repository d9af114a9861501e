"""The stages of an answer, each a function of what the one before it returned.

condense (a follow-up made standalone) → retrieve (from the question's snapshot) → evidence (the
sentences that best answer it) → pack (the sources and history that fit, and the prompt measured)
→ generate or quote → ground and check → ``answer`` (the one place an ``Answer`` is built). ``Answerer`` runs them in that order; each can be called
and tested alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from foldrag.answering.events import Answer, ReasoningEvent, Stage, TokenEvent
from foldrag.answering.question import Question
from foldrag.core.contracts import GenerationStats, Generator, complete
from foldrag.core.settings import GenerationSettings
from foldrag.core.types import Hit
from foldrag.generation.citations import Citation, source_citation
from foldrag.generation.grounding import Grounded
from foldrag.generation.guards import LoopGuard
from foldrag.generation.evidence import Evidence, select_evidence
from foldrag.generation.prompting import Packed, Render, condense_messages, format_source, pack_context
from foldrag.generation.thinking import ThinkSplitter
from foldrag.retrieval.hybrid import Retrieval

class StageClock:
    """The trace of one answer: each stage's name and time, in the order they ran."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.stages: list[Stage] = []

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.stages.append(Stage(name, time.perf_counter() - t0))

    def seconds(self, name: str) -> float | None:
        return next((s.seconds for s in self.stages if s.name == name), None)

    def total(self) -> float:
        return time.perf_counter() - self.started


def condense(generator: Generator, question: Question, settings: GenerationSettings) -> str:
    """The follow-up ``question`` rewritten to stand alone from its history (the question itself when
    the model's rewrite is too short to be one)."""
    prompt = condense_messages(question.text, question.history_messages(), count_tokens=generator.count_tokens,
                               budget=min(768, settings.context_tokens // 2))
    rewritten = complete(generator, prompt, max_tokens=96, temperature=0.0).strip()
    rewritten = rewritten.splitlines()[0].strip() if rewritten else ""
    return rewritten if len(rewritten) >= 3 else question.text


def retrieve(question: Question, query: str) -> Retrieval:
    """``query`` (the standalone question) ranked on the question's own snapshot."""
    return question.retriever.retrieve(query, question.k, question.mode)


def reasoning_budget(generator: Generator, settings: GenerationSettings) -> int:
    return settings.reasoning_max_tokens if generator.reasoning else 0


def evidence(question: Question, query: str, hits: Sequence[Hit], settings: GenerationSettings,
             tokenize: Callable[[str], list[str]]) -> tuple[Evidence, ...]:
    """The ``generation.evidence_sentences`` sentences of the hits that best answer ``query`` (the
    standalone question), scored by the question's embedder and keywords; numbered by hit."""
    if not settings.evidence_sentences:
        return ()
    embed = question.embedder.embed if question.embedder is not None else None
    return select_evidence(query, hits, tokenize=tokenize, embed=embed, limit=settings.evidence_sentences)


def pack(generator: Generator, question: Question, hits: Sequence[Hit], settings: GenerationSettings,
         render: Render = format_source) -> Packed:
    """The sources (best first) and history turns that fit the prompt budget, and the prompt itself."""
    room = generator.context_window - settings.max_new_tokens - reasoning_budget(generator, settings)
    budget = min(settings.context_tokens, room)
    return pack_context(question.text, list(hits), generator.prompt_tokens, generator.count_tokens, budget,
                        question.history_messages(), render)


def number(sources: Sequence[Hit]) -> tuple[Citation, ...]:
    """Source n of the prompt as citation n: what ``[n]`` in an answer points at."""
    return tuple(source_citation(n, hit) for n, hit in enumerate(sources, start=1))


@dataclass(frozen=True)
class Draft:
    """What the model wrote, before grounding."""

    text: str
    reasoning: str
    stats: GenerationStats | None
    first_token_s: float
    looped: bool


def generate(generator: Generator, packed: Packed, settings: GenerationSettings
             ) -> Iterator[TokenEvent | ReasoningEvent]:
    """Stream the model's reply to the packed prompt as events; returns the ``Draft`` (the value of
    ``yield from``). The ``<think>`` part comes as reasoning events, capped by the reasoning budget;
    a reply that runs in a loop is stopped. Closing it stops the model."""
    budget = reasoning_budget(generator, settings)
    splitter = ThinkSplitter(expects_reasoning=generator.reasoning)
    guard = LoopGuard()
    t0 = time.perf_counter()
    first_token = None
    stream = generator.stream(list(packed.messages), max_tokens=settings.max_new_tokens + budget,
                              temperature=settings.temperature)
    thoughts = 0
    try:
        for piece in stream:
            if first_token is None:
                first_token = time.perf_counter() - t0
            thought, said = splitter.feed(piece)
            if thought:
                thoughts += 1
                yield ReasoningEvent(thought)
                if budget and thoughts >= budget and not splitter.answer:
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
    elapsed = time.perf_counter() - t0
    return Draft(text=guard.text if guard.looped else splitter.answer, reasoning=splitter.reasoning.strip(),
                 stats=stream.stats, first_token_s=first_token or elapsed, looped=guard.looped)


def answer(question: Question, standalone: str, retrieval: Retrieval, grounded: Grounded, clock: StageClock, *,
           model: str, engine: str, draft: Draft | None = None, evidence: tuple[Evidence, ...] = ()) -> Answer:
    """The one place an ``Answer`` is built: the grounded text and citations, the draft's figures
    (none for a quoted answer), the timings and the trace of the stages."""
    stats = draft.stats if draft is not None else None
    produced = clock.seconds("generate" if draft is not None else "quote") or 0.0
    timings = {name + "_s": seconds for name in ("condense", "retrieve", "evidence")
               if (seconds := clock.seconds(name)) is not None}
    timings.update({"first_token_s": draft.first_token_s if draft is not None else produced, "generate_s": produced,
                    "tokens_per_s": stats.tokens_per_s if stats else 0.0, "total_s": clock.total()})
    if stats is not None:  # the prompt's attention cache: computed, or reused (transformers backend)
        timings.update({"prompt_computed_tokens": float(stats.computed_tokens),
                        "prompt_reused_tokens": float(stats.cached_tokens),
                        "prefill_saved_s": stats.prefill_saved_s})
    return Answer(answer=grounded.text, reasoning=draft.reasoning if draft is not None else "",
                  citations=grounded.citations, queries=tuple(retrieval.trace.queries), timings=timings,
                  question=question.text, standalone_question=standalone, citation_method=grounded.method,
                  prompt_tokens=stats.prompt_tokens if stats else 0, completion_tokens=stats.new_tokens if stats else 0,
                  engine=engine, model=model, looped=draft.looped if draft is not None else False,
                  echoed=grounded.echoed, stages=tuple(clock.stages), evidence=evidence)
