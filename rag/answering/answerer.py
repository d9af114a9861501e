"""``Answerer``: runs the answer stages over a prepared ``Question``, as a stream of typed events.

Example::

    question = rag.prepare("What does RRF do?")
    answer = rag.answerer().ask(question)        # or: rag.ask("What does RRF do?")
    print(answer.answer, [c.source for c in answer.citations], [s.name for s in answer.stages])
"""

from __future__ import annotations

from collections.abc import Iterator

from foldrag.answering import stages
from foldrag.answering.events import (
    Answer, AnswerEvent, DoneEvent, EvidenceEvent, QueriesEvent, SourcesEvent, StatusEvent, TokenEvent,
)
from foldrag.answering.question import Question
from foldrag.core.contracts import Generator
from foldrag.core.settings import GenerationSettings
from foldrag.generation.evidence import across_languages, holding, renumbered
from foldrag.generation.grounding import Grounding
from foldrag.generation.prompting import focused, format_source


class Answerer:
    """Answers prepared questions with ``generator``; without one (or with ``generation.mode =
    "quote"``) answers are quoted source sentences. Holds no per-question state: one serves every
    request of a collection, concurrently."""

    def __init__(self, generator: Generator | None, settings: GenerationSettings, grounding: Grounding) -> None:
        self._generator = generator
        self._settings = settings
        self._grounding = grounding

    def quoting(self) -> bool:
        return self._generator is None or self._settings.mode == "quote"

    def ask(self, question: Question) -> Answer:
        stream = self.stream(question)
        try:
            for event in stream:
                if isinstance(event, DoneEvent):
                    return event.answer
        finally:
            stream.close()
        raise AssertionError("an answer stream ends with a DoneEvent")

    def stream(self, question: Question) -> Iterator[AnswerEvent]:
        """Events in order: status, queries, evidence, sources, status, token/reasoning (many), done.
        Closing it stops generation."""
        clock = stages.StageClock()
        generator, settings = self._generator, self._settings
        standalone = question.text
        if question.history and generator is not None:
            yield StatusEvent("condensing")
            with clock.stage("condense"):
                standalone = stages.condense(generator, question, settings)

        yield StatusEvent("retrieving")
        with clock.stage("retrieve"):
            retrieval = stages.retrieve(question, standalone)
        yield QueriesEvent(tuple(retrieval.trace.queries))
        with clock.stage("evidence"):
            found = stages.evidence(question, standalone, retrieval.hits, settings, self._grounding.tokenize)

        if self.quoting():
            sources = tuple(holding(retrieval.hits, found)) if found else retrieval.hits
            found = renumbered(found, sources)
            numbered = stages.number(sources)
            yield EvidenceEvent(found)
            yield SourcesEvent(sources, numbered)
            yield StatusEvent("quoting")
            with clock.stage("quote"):
                grounded = self._grounding.supported(
                    self._grounding.quote(standalone, sources, numbered, evidence=found), sources, found)
            yield TokenEvent(grounded.text)
            yield DoneEvent(stages.answer(question, standalone, retrieval, grounded, clock,
                                          model="none", engine="extractive", evidence=found))
            return

        assert generator is not None
        # Across languages the evidence is found by meaning alone and often misses (bench/evidence_selector.py:
        # top sentence right 0.33 against 0.88 within Korean): then the model reads the whole chunks.
        focus = settings.prompt == "focused" and bool(found) and not across_languages(question.text, found)
        with clock.stage("pack"):
            packed = stages.pack(generator, question, holding(retrieval.hits, found) if focus else retrieval.hits,
                                 settings, focused(found) if focus else format_source)
        found = renumbered(found, packed.sources)
        numbered = stages.number(packed.sources)
        yield EvidenceEvent(found)
        yield SourcesEvent(packed.sources, numbered)
        yield StatusEvent("generating")
        with clock.stage("generate"):
            draft = yield from stages.generate(generator, packed, settings)
        with clock.stage("ground"):
            grounded = self._grounding.ground(draft.text, question.text, packed.instructions, packed.sources,
                                              numbered, evidence=found)
            if settings.answer_check:
                grounded = self._grounding.checked(grounded, question.text, found, packed.sources, numbered)
            grounded = self._grounding.supported(grounded, packed.sources, found)
        answer = stages.answer(question, standalone, retrieval, grounded, clock, model=generator.name,
                               engine=draft.stats.engine if draft.stats else "", draft=draft, evidence=found)
        yield DoneEvent(answer)
