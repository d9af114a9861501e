"""``AcrossCollections``: one question asked of several collections at once.

Each collection checks the question (``Foldrag.prepare``); the retrieval runs on every one and the
lists are fused by rank (``retrieval/across.py``), each hit keeping the name of its collection; the
answer is written by the shared answerer. The CLI (``--index A --index B``), ``foldrag.open_many``,
the HTTP API (``collections``) and MCP (``collection`` as a list) all ask through it.

Example::

    import foldrag

    both = foldrag.open_many(["~/notes-index", "~/papers-index"])
    for hit in both.search("형태소 분석", k=5):
        print(hit.collection, hit.chunk.source, hit.score)
    print(both.ask("What does RRF do?").answer)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping

from foldrag.answering import stages
from foldrag.answering.answerer import Answerer
from foldrag.answering.events import Answer, AnswerEvent
from foldrag.answering.question import Question
from foldrag.core.errors import InvalidInput
from foldrag.core.types import Hit
from foldrag.retrieval.across import Across
from foldrag.retrieval.fusion import Fusion
from foldrag.retrieval.hybrid import Retrieval
from foldrag.service import Foldrag, HistoryLike


class AcrossCollections:
    """The collections ``members`` (name → ``Foldrag``, sharing their models) asked as one."""

    def __init__(self, members: Mapping[str, Foldrag], fusion: Fusion = Fusion()) -> None:
        if not members:
            raise InvalidInput("no collection to ask")
        self.members = dict(members)
        self.fusion = fusion

    @property
    def name(self) -> str:
        """The collections' names joined by commas (what an answer says it came from)."""
        return ",".join(self.members)

    def first(self) -> Foldrag:
        return next(iter(self.members.values()))

    def answerer(self) -> Answerer:
        return self.first().answerer()

    def prepare(self, text: str, *, mode: str | None = None, k: int | None = None, history: HistoryLike = (),
                what: str = "question") -> Question:
        """The question checked by every collection; its retriever fuses theirs (one collection:
        that collection's question as it is)."""
        questions = {name: rag.prepare(text, mode=mode, k=k, history=history, what=what)
                     for name, rag in self.members.items()}
        first = next(iter(questions.values()))
        if len(questions) == 1:
            return first
        fused = Across({name: q.retriever for name, q in questions.items()}, self.fusion)
        return dataclasses.replace(first, retriever=fused)

    def retrieve(self, query: str | Question, k: int | None = None, mode: str | None = None) -> Retrieval:
        question = query if isinstance(query, Question) else self.prepare(query, mode=mode, k=k, what="query")
        return stages.retrieve(question, question.text)

    def search(self, query: str, k: int = 5, mode: str | None = None) -> list[Hit]:
        """The ``k`` chunks that best match ``query`` over every collection, best first; each hit's
        ``collection`` names where it is."""
        return list(self.retrieve(query, k, mode).hits)

    def ask(self, question: str, *, history: HistoryLike = (), k: int | None = None, mode: str | None = None) -> Answer:
        return self.answerer().ask(self.prepare(question, mode=mode, k=k, history=history))

    def stream(self, question: str, *, history: HistoryLike = (), k: int | None = None,
               mode: str | None = None) -> Iterator[AnswerEvent]:
        return self.answerer().stream(self.prepare(question, mode=mode, k=k, history=history))

    def close(self) -> None:
        for rag in self.members.values():
            rag.close()
