"""foldrag inside LangChain: the retriever as a ``BaseRetriever``, question answering as a ``Runnable``.

Example::

    import foldrag
    from foldrag.integrations.langchain import FoldragQA, FoldragRetriever

    rag = foldrag.open("~/.local/share/foldrag/index")
    retriever = FoldragRetriever(rag=rag, k=4)
    docs = retriever.invoke("What is RRF?")            # langchain Documents with source/page metadata
    qa = FoldragQA(rag=rag)
    qa.invoke("What is RRF?")["answer"]                 # the answer, with [n] citations
    for token in qa.stream("What is RRF?"): print(token, end="")
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableConfig

from foldrag.answering.events import TokenEvent


def to_document(hit) -> Document:
    chunk = hit.chunk
    return Document(page_content=chunk.text, id=chunk.id,
                    metadata={"source": chunk.source, "page": chunk.page, "title": chunk.title,
                              "heading": chunk.heading, "chunk_id": chunk.id, "score": float(hit.score)})


class FoldragRetriever(BaseRetriever):
    """foldrag's hybrid retrieval as a LangChain retriever."""

    rag: Any
    k: int = 5
    mode: str | None = None  # the configured mode (auto)

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [to_document(hit) for hit in self.rag.search(query, k=self.k, mode=self.mode)]


def _question(value: str | dict) -> tuple[str, list[dict[str, str]]]:
    if isinstance(value, str):
        return value, []
    return value["question"], list(value.get("history", []))


class FoldragQA(Runnable[Any, dict]):
    """Question → answer with citations. Input: a question, or ``{"question", "history"?}``.
    ``invoke`` returns the answer's JSON (answer, reasoning, citations, queries, timings);
    ``stream`` yields the answer text as it is generated."""

    def __init__(self, rag, *, k: int | None = None, mode: str | None = None) -> None:
        self.rag = rag
        self.k = k
        self.mode = mode

    def invoke(self, input: str | dict, config: RunnableConfig | None = None, **kwargs: Any) -> dict:
        question, history = _question(input)
        return self.rag.ask(question, history=history, k=self.k, mode=self.mode).to_json()

    def stream(self, input: str | dict, config: RunnableConfig | None = None, **kwargs: Any) -> Iterator[str]:
        question, history = _question(input)
        events = self.rag.stream(question, history=history, k=self.k, mode=self.mode)
        try:
            for event in events:
                if isinstance(event, TokenEvent):
                    yield event.text
        finally:
            events.close()
