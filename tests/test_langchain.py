"""foldrag's retriever and answerer inside LangChain chains."""

from __future__ import annotations

from langchain_core.runnables import RunnableLambda, RunnablePassthrough

from foldrag.integrations.langchain import FoldragQA, FoldragRetriever
from tests.fakes import HashEmbedder, LoopChat
from tests.server_support import make_collection, serve_settings, write_docs


def _rag(settings, tmp_path, chat=None):
    cfg = serve_settings(settings)
    return make_collection(cfg, HashEmbedder(), chat or LoopChat(), write_docs(tmp_path / "docs"))


def test_retriever_in_a_chain(settings, tmp_path):
    retriever = FoldragRetriever(rag=_rag(settings, tmp_path), k=2)
    docs = retriever.invoke("Reciprocal Rank Fusion")
    assert docs[0].metadata["source"] == "fusion.md" and "Fusion" in docs[0].page_content
    assert len(docs) == 2 and docs[0].metadata["score"] >= docs[1].metadata["score"]

    def prompt(inputs: dict) -> str:
        context = "\n".join(f"[{i}] {d.page_content}" for i, d in enumerate(inputs["context"], start=1))
        return f"Context:\n{context}\nQuestion: {inputs['question']}"

    chain = {"context": retriever, "question": RunnablePassthrough()} | RunnableLambda(prompt)
    text = chain.invoke("What is the capital of France?")
    assert "Paris is the capital of France" in text and text.endswith("Question: What is the capital of France?")


def test_answerer_as_a_runnable(settings, tmp_path):
    qa = FoldragQA(_rag(settings, tmp_path), mode="hybrid")
    chain = RunnableLambda(lambda q: {"question": q}) | qa | RunnableLambda(lambda a: (a["answer"], a["citations"][0]["source"]))
    assert chain.invoke("What is the capital of France?") == ("Paris is the capital of France [1].", "france.md")
    pieces = list(qa.stream("What is the capital of France?"))
    assert len(pieces) > 1 and "".join(pieces) == "Paris is the capital of France [1]."
    batch = qa.batch(["What is the capital of France?", {"question": "And Korea?", "history": []}])
    assert [b["answer"] for b in batch] == ["Paris is the capital of France [1]."] * 2
