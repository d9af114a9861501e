"""``Question``: a question checked once (``Foldrag.prepare``), with everything its answer reads.

After ``prepare`` nothing about the question is checked again, and no stage goes back to the
service: the question carries its resolved mode, its k, its history, and the retriever of the
index snapshot it was prepared on (a newer generation committed meanwhile is the next question's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from foldrag.core.contracts import Embedder
from foldrag.indexes.folder import IndexSnapshot
from foldrag.retrieval.hybrid import Retrieval


class Ranking(Protocol):
    """What a question retrieves with: ``HybridRetriever`` over one snapshot, or a view of it (the
    answer eval hides a question's own paragraph)."""

    def retrieve(self, query: str, k: int, mode: str) -> Retrieval: ...


@dataclass(frozen=True)
class Turn:
    """One earlier message of the conversation."""

    role: str  # "user" or "assistant"
    content: str

    def message(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class Question:
    """A question ready to answer: stripped text, a resolved mode ('dense', 'bm25', 'hybrid' or
    'multi', never 'auto'), the number of chunks to retrieve, the conversation before it, and the
    retriever of the snapshot it was prepared on, and the embedder that reads its evidence."""

    text: str
    mode: str
    k: int
    history: tuple[Turn, ...]
    snapshot: IndexSnapshot
    retriever: Ranking
    embedder: Embedder | None = None  # the collection's: scores the evidence by meaning (None: by keywords)

    def history_messages(self) -> list[dict[str, str]]:
        return [turn.message() for turn in self.history]
