"""What answering produces: the ``Answer`` and the typed events of a streamed answer.

A stream is ``StatusEvent, QueriesEvent, EvidenceEvent, SourcesEvent, StatusEvent, (TokenEvent |
ReasoningEvent)*, DoneEvent`` (a follow-up starts with a "condensing" StatusEvent). Each event's ``kind`` is its name on the wire (the SSE event name of ``POST /v1/query``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from foldrag.core.types import Hit
from foldrag.generation.citations import Citation
from foldrag.generation.evidence import Evidence


@dataclass(frozen=True)
class Stage:
    """One stage of an answer's walk (condense, retrieve, pack, generate or quote, ground) and its time."""

    name: str
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {"stage": self.name, "s": round(self.seconds, 4)}


@dataclass(frozen=True)
class Answer:
    answer: str
    reasoning: str
    citations: tuple[Citation, ...]  # the sources the answer cites, in order of first mention
    queries: tuple[str, ...]
    timings: dict[str, float]
    question: str = ""
    standalone_question: str = ""
    # model: [n] written by the LLM; inferred: attributed by keyword overlap; evidence: the answer is the
    # evidence sentences (generation.mode "quote", or the replacement of an answer worse than its
    # evidence); extractive: quoted by the floor (no evidence); none: nothing cited (a refusal)
    citation_method: str = "model"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    engine: str = ""  # the backend that wrote the answer, e.g. "llama.cpp"
    model: str = ""  # the model it ran (generation.model, or the server's model and URL)
    looped: bool = False  # generation was stopped because the text ran in a loop
    echoed: int = 0  # sentences of the prompt's instructions removed from the model's text
    stages: tuple[Stage, ...] = ()  # the walk that made this answer, in order, with each stage's time
    evidence: tuple[Evidence, ...] = ()  # the supporting sentences shown before the answer, best first

    def to_json(self) -> dict[str, Any]:
        return {"answer": self.answer, "reasoning": self.reasoning,
                "citations": [c.to_json() for c in self.citations], "citation_method": self.citation_method,
                "queries": list(self.queries),
                "timings": {k: round(v, 4) for k, v in self.timings.items()},
                "stages": [s.to_json() for s in self.stages],
                "evidence": [e.to_json() for e in self.evidence],
                "model": self.model, "engine": self.engine}


@dataclass(frozen=True)
class StatusEvent:
    """The stage the answer is in, before anything else shows: condensing, retrieving, generating, quoting."""

    kind: ClassVar[str] = "status"
    stage: str


@dataclass(frozen=True)
class QueriesEvent:
    """The queries retrieval ran (the question first, then any rewrites)."""

    kind: ClassVar[str] = "queries"
    queries: tuple[str, ...]


@dataclass(frozen=True)
class EvidenceEvent:
    """The supporting sentences, best first, sent as soon as retrieval returns (before the model
    runs); each names its source number ``n`` (as in ``SourcesEvent``), file, page and boxes."""

    kind: ClassVar[str] = "evidence"
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class SourcesEvent:
    """The sources in the model's prompt; ``citations[n-1]`` is what ``[n]`` in the answer points at."""

    kind: ClassVar[str] = "sources"
    hits: tuple[Hit, ...]
    citations: tuple[Citation, ...]


@dataclass(frozen=True)
class TokenEvent:
    kind: ClassVar[str] = "token"
    text: str


@dataclass(frozen=True)
class ReasoningEvent:
    """Text of the model's ``<think>`` part: never part of the answer or its citations."""

    kind: ClassVar[str] = "reasoning"
    text: str


@dataclass(frozen=True)
class DoneEvent:
    kind: ClassVar[str] = "done"
    answer: Answer


AnswerEvent = StatusEvent | QueriesEvent | EvidenceEvent | SourcesEvent | TokenEvent | ReasoningEvent | DoneEvent
