"""The situation of issue 41 with the real bundled embedder (multilingual-e5-small): a Korean study
note with a model-size table, the leave-policy HWPX and the RRF page of examples/docs, and a two-page
manual whose sentence sits on page 2 of a chunk that starts on page 1. Quoting (no model): each
question's evidence holds its answer, in either language, and names the page its sentence is on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from foldrag.build import build_rag
from foldrag.core.settings import Settings
from tests.docs_factory import MANUAL_TARGET, SITUATION_QUESTIONS, write_situation

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def situation(tmp_path_factory):
    root = tmp_path_factory.mktemp("situation")
    docs = write_situation(root / "docs", REPO / "examples" / "docs")
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("FOLDRAG_")}
    os.environ["FOLDRAG_CONFIG"] = str(root / "none.toml")
    try:
        settings = Settings.load(index={"path": root / "index"}, generation={"mode": "quote", "model": "none"})
    finally:
        os.environ.pop("FOLDRAG_CONFIG")
        os.environ.update(saved)
    rag = build_rag(settings)
    rag.ingest(docs)
    yield rag
    rag.close()


SAME_LANGUAGE = [SITUATION_QUESTIONS[i] for i in (2, 3, 4)]
ACROSS = [SITUATION_QUESTIONS[i] for i in (0, 1)]


@pytest.mark.parametrize("question, right", SAME_LANGUAGE, ids=[q for q, _ in SAME_LANGUAGE])
def test_the_top_sentence_holds_the_answer_and_the_quoted_answer_says_it(situation, question, right):
    answer = situation.ask(question)
    top = answer.evidence[0]
    assert any(r in top.text for r in right), [e.text for e in answer.evidence]
    assert answer.citation_method == "evidence" and any(r in answer.answer for r in right), answer.answer
    assert answer.citations[0].source == top.source


@pytest.mark.parametrize("question, right", ACROSS, ids=[q for q, _ in ACROSS])
def test_across_languages_the_evidence_holds_the_answer_and_nothing_wrong_is_quoted(situation, question, right):
    """Across languages words cannot match and the small embedder's cosine is close for every
    sentence: the answer sentence is among the four shown (the model reads them all), and a quote
    is never of a wrong sentence — below the bar of meaning, quoting refuses."""
    answer = situation.ask(question)
    assert any(r in e.text for e in answer.evidence for r in right), [e.text for e in answer.evidence]
    assert not answer.citations or any(r in answer.answer for r in right), answer.answer


def test_the_sentence_after_the_page_break_is_on_page_two(situation):
    answer = situation.ask("What pressure does the obsidian valve hold?")
    top = answer.evidence[0]
    assert (top.source, top.text, top.page) == ("manual.pdf", MANUAL_TARGET, 2)
    assert top.boxes and {b.page for b in top.boxes} == {2}
    [citation] = answer.citations
    assert citation.page == 2 and citation.pages == (1, 2), "the chunk starts on page 1, the words are on page 2"
