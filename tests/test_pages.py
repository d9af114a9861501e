"""Pages that are right (issue 41, item 4): a PDF chunk can cross a page break, so a hit carries
every page it spans (``pages``), and a citation's ``page`` is the page of the sentence that supports
it — not the page the chunk starts on. On a two-page PDF written here, through the whole path:
ingest, search (JSON and the CLI's line), an answer's citation, MCP's passage."""

from __future__ import annotations

import pytest

from foldrag.build import build_rag
from foldrag.core.locations import sentence_spans
from tests.fakes import HashEmbedder, LoopChat
from tests.server_support import shared_tokenizer


def _lorem(sentences: int) -> str:
    """Sentences whose long words are unique, so BM25 finds each sentence's chunk alone."""
    return " ".join(f"Obsidian{n} valves{n} hold{n} pressure{n} near{n} gauges{n}." for n in range(sentences))


@pytest.fixture
def crossing(settings, tmp_path):
    """(the Foldrag, the chunk that crosses the page break, one of its sentences printed on page 2)."""
    from fpdf import FPDF
    from pypdf import PdfReader

    docs = tmp_path / "docs"
    docs.mkdir()
    for lead in range(12):  # words before the sentences, until page 1 ends inside a sentence
        pdf = FPDF()
        pdf.add_page()
        pdf.set_font("Helvetica", size=12)
        pdf.multi_cell(0, 7, "Manual " * lead + _lorem(90))  # runs over onto page 2 mid-paragraph
        pdf.output(str(docs / "manual.pdf"))
        if not PdfReader(docs / "manual.pdf").pages[0].extract_text().rstrip().endswith("."):
            break
    settings = settings.model_copy(update={"ingest": settings.ingest.model_copy(update={"ocr": "off", "chunk_tokens": 120})})
    rag = build_rag(settings, embedder=HashEmbedder(), generator=LoopChat("x"), with_generator=True,
                    tokenizer=shared_tokenizer())
    rag.ingest(docs)
    for n in range(90):
        [hit] = rag.search(f"Obsidian{n} valves{n}", k=1, mode="bm25")
        if hit.chunk.pages() == (1, 2):
            chunk = hit.chunk
            on_two = [s for s in chunk.spans if s.boxes and s.boxes[0].page == 2]
            if on_two and chunk.page == 1:
                yield rag, chunk, chunk.text[on_two[-1].start:on_two[-1].end]
                rag.close()
                return
    pytest.fail("no chunk crosses the page break: the test PDF no longer tests what it should")


def test_a_hit_carries_every_page_it_spans(crossing):
    rag, chunk, sentence = crossing
    word = sentence.split()[0]
    [hit] = rag.search(word, k=1, mode="bm25")
    assert hit.chunk.id == chunk.id
    assert hit.to_json()["page"] == 1 and hit.to_json()["pages"] == [1, 2]
    a, b = next((a, b) for a, b in sentence_spans(chunk.text) if chunk.text[a:b] == sentence)
    assert chunk.page_of(a, b) == 2 and chunk.page_of(0, 5) == 1


def test_a_citation_names_the_page_of_its_supporting_sentence(crossing, settings):
    rag, chunk, sentence = crossing
    chat = LoopChat(sentence.rstrip(".") + " [1].")
    answerer_rag = build_rag(settings.model_copy(update={"index": settings.index.model_copy(
        update={"path": rag.index_path})}), embedder=HashEmbedder(), generator=chat, with_generator=True,
        tokenizer=shared_tokenizer())
    answer = answerer_rag.ask(sentence, mode="bm25", k=1)
    [citation] = answer.citations
    assert citation.chunk_id == chunk.id and citation.pages == (1, 2)
    assert citation.page == 2, "the sentence that supports the answer is printed on page 2"
    a, b = citation.support
    assert chunk.text[a:b] == sentence
    assert citation.to_json()["page"] == 2 and citation.to_json()["pages"] == [1, 2]
    answerer_rag.close()


def test_the_cli_line_and_mcp_passage_show_the_pages(crossing):
    from foldrag.api.mcp_server import _passage
    from foldrag.cli import _where

    rag, chunk, sentence = crossing
    assert _where(chunk.source, chunk.pages(), "") == "manual.pdf p.1–2"
    assert _where(chunk.source, (2,), "notes") == "notes: manual.pdf p.2"
    passage = _passage(1, chunk, 0.5, "docs")
    assert passage.page == 1 and passage.pages == [1, 2]
