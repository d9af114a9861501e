"""The evidence: which sentences are found, how a table row and a page read, the focused prompt made
of them, and the check that keeps no answer worse than its evidence."""

from __future__ import annotations

import numpy as np

from tests.server_support import shared_tokenizer

from foldrag.core.locations import PageBoxes, Span
from foldrag.core.types import Chunk, Hit
from foldrag.generation.citations import source_citation
from foldrag.generation.evidence import quoted, select_evidence
from foldrag.generation.grounding import Grounded, Grounding
from foldrag.generation.prompting import focused

LEAVE = ("# 휴가 규정\n\n휴가는 아래 표와 같습니다.\n\n| 구분 | 일수 | 비고 |\n|---|---|---|\n"
         "| 연차 | 15일 | 입사 1년 후 |\n| 병가 | 30일 | 진단서 필요 |\n\n규정은 2024년부터 적용됩니다.")
RRF = ("# Rank fusion\n\nSearch engines often run several retrievers. RRF adds 1/(k + rank) over every list "
       "a document appears in. The default k is 60. Documents found by both lists rise to the top.")


def _hit(n: int, text: str, source: str = "", **chunk) -> Hit:
    return Hit(Chunk(id=f"c{n}", source=source or f"doc{n}.md", text=text, **chunk), 1.0 / n)


def _numbered(hits):
    return [source_citation(n, hit) for n, hit in enumerate(hits, start=1)]


def toward(marker: str):
    """An embedder under which the question and the texts holding ``marker`` point one way, every
    other text another (cosine 1 or 0)."""
    def embed(texts, query=False, urgent=None):
        return np.asarray([[1.0, 0.0] if query or marker in t else [0.0, 1.0] for t in texts], dtype=np.float32)
    return embed


def _select(question, hits, **kw):
    return select_evidence(question, hits, tokenize=shared_tokenizer(), **kw)


def test_a_table_row_reads_with_its_header_and_the_rule_and_heading_are_no_sentences():
    found = _select("병가는 며칠인가요?", [_hit(1, LEAVE, "leave.md")])
    assert found[0].text == "구분: 병가 · 일수: 30일 · 비고: 진단서 필요"
    assert found[0].row == (("구분", "병가"), ("일수", "30일"), ("비고", "진단서 필요"))
    assert (found[0].n, found[0].source) == (1, "leave.md")
    texts = [e.text for e in found]
    assert not any(t.startswith(("#", "휴가 규정", "---", "구분: 구분")) or "---" in t for t in texts)


def test_evidence_names_the_page_its_sentence_is_on_and_its_boxes():
    text = "The pump starts at dawn. The obsidian valve holds 40 bar of pressure."
    second = text.index("The obsidian")
    spans = (Span(0, second - 1, (PageBoxes(1, 600, 800, ((10, 700, 200, 712),)),)),
             Span(second, len(text), (PageBoxes(2, 600, 800, ((10, 40, 300, 52),)),)))
    hit = _hit(1, text, "manual.pdf", page=1, spans=spans)
    top = _select("obsidian valve pressure", [hit])[0]
    assert top.text == "The obsidian valve holds 40 bar of pressure."
    assert top.page == 2 and top.boxes[0].page == 2 and (top.start, top.end) == (second, len(text))


def test_a_sentence_in_another_language_is_found_by_meaning():
    """An English question shares no word with a Korean sentence: the embedder's cosine decides."""
    korean = "병가는 연간 30일까지 쓸 수 있다. 회의실은 3층에 있다."
    embed = toward("병가")

    found = _select("How many days of sick leave are there?", [_hit(1, korean)], embed=embed)
    assert found[0].text == "병가는 연간 30일까지 쓸 수 있다." and found[0].similarity == 1.0
    calls = []
    _select("sick leave", [_hit(1, korean)], embed=lambda texts, **kw: calls.append(kw) or embed(texts, **kw))
    assert calls[0] == {"query": False, "urgent": True}, "a person waits: the sentences go before an ingest's"
    keywords_only = _select("How many days of sick leave are there?", [_hit(1, korean)])
    assert keywords_only[0].score == 0.0, "without meaning nothing in Korean matches the English words"


def test_the_focused_prompt_reads_the_evidence_with_its_neighbours_and_a_row_with_its_header():
    hits = [_hit(1, RRF, "rank-fusion.html", title="Rank fusion"), _hit(2, LEAVE, "leave.md", heading="휴가 규정")]
    found = _select("RRF는 순위를 어떻게 합치나요? rank fusion 1/(k + rank)", hits[:1], limit=1)
    source = focused(found)(1, hits[0])
    assert source.splitlines()[0] == "[1] (rank-fusion.html) Rank fusion"
    assert "RRF adds 1/(k + rank) over every list a document appears in." in source
    assert "Search engines often run several retrievers." in source and "The default k is 60." in source
    assert "rise to the top" not in source, "one neighbour either side, no more"
    row = _select("병가는 며칠인가요?", hits[1:], limit=1)
    table = focused([row[0]])(1, hits[1])
    assert table.splitlines()[1:] == ["| 구분 | 일수 | 비고 |", "| 연차 | 15일 | 입사 1년 후 |",
                                      "| 병가 | 30일 | 진단서 필요 |", "규정은 2024년부터 적용됩니다."]


def test_a_source_without_evidence_reads_whole():
    hit = _hit(1, RRF)
    assert focused(())(1, hit) == f"[1] (doc1.md)\n{RRF.strip()}"


GROUNDING = Grounding(shared_tokenizer())


def _check(answer: str, question: str, hits, method="model", **kw):
    found = _select(question, hits, **kw)
    numbered = _numbered(hits)
    grounded = GROUNDING.ground(answer, question, "instructions", hits, numbered, evidence=found)
    assert grounded.method == method, grounded
    return GROUNDING.checked(grounded, question, found, hits, numbered)


def test_an_answer_that_restates_the_question_is_replaced_by_the_evidence():
    hits = [_hit(1, "RRF는 각 검색 결과 목록에서 1/(k + rank)를 더해 순위를 합칩니다. 기본 k는 60입니다.", "rrf.md")]
    checked = _check("RRF는 여러 검색 결과의 순위를 합치는 방법이 있습니다 [1].", "RRF는 여러 검색 결과의 순위를 어떻게 합치나요?", hits)
    assert checked.method == "evidence"
    assert checked.text.startswith("RRF는 각 검색 결과 목록에서 1/(k + rank)를 더해 순위를 합칩니다 [1]")
    assert [c.source for c in checked.citations] == ["rrf.md"]


def test_a_right_answer_is_kept():
    hits = [_hit(1, "The capital of France is Paris. It lies on the Seine.", "france.md")]
    kept = _check("The capital of France is Paris [1].", "What is the capital of France?", hits)
    assert (kept.text, kept.method) == ("The capital of France is Paris [1].", "model")


def test_a_refusal_the_evidence_answers_is_replaced_and_a_hidden_answer_still_refused():
    hits = [_hit(1, LEAVE, "leave.md")]
    replaced = _check("문서에는 그 내용이 없습니다.", "병가는 며칠인가요?", hits, method="none")
    assert replaced.method == "evidence" and "병가 · 일수: 30일" in replaced.text and "[1]" in replaced.text
    unrelated = [_hit(1, "회의실은 3층에 있고 예약은 인트라넷에서 합니다.", "rooms.md")]
    refused = _check("문서에는 그 내용이 없습니다.", "병가는 며칠인가요?", unrelated, method="none")
    assert (refused.text, refused.method, refused.citations) == ("문서에는 그 내용이 없습니다.", "none", ())


def test_a_table_row_run_together_becomes_header_value_pairs():
    hits = [_hit(1, LEAVE, "leave.md")]
    checked = _check("병가 30일 진단서 필요 [1]", "병가는 며칠인가요?", hits)
    assert (checked.text, checked.method) == ("구분: 병가 · 일수: 30일 · 비고: 진단서 필요 [1]", "evidence")


def test_an_answer_in_another_language_is_replaced_and_the_quote_says_it_is_in_korean():
    hits = [_hit(1, LEAVE, "leave.md")]
    checked = _check("Sick leave is thirty days long according to the table [1].", "병가는 며칠인가요?", hits)
    assert checked.method == "evidence" and checked.text.startswith("구분: 병가")
    english = "How long is the sick leave allowance?"
    found = _select(english, hits, embed=toward("30일"))
    assert quoted(english, found) == "The documents say, in Korean: 구분: 병가 · 일수: 30일 · 비고: 진단서 필요 [1]"


def test_a_right_english_answer_over_korean_evidence_is_kept():
    hits = [_hit(1, LEAVE, "leave.md")]
    kept = _check("Sick leave is 30 days [1].", "How long is sick leave?", hits)
    assert (kept.text, kept.method) == ("Sick leave is 30 days [1].", "model")


def test_quote_mode_is_the_evidence_alone_or_the_refusal():
    hits = [_hit(1, LEAVE, "leave.md")]
    numbered = _numbered(hits)
    answer = GROUNDING.quote("병가는 며칠인가요?", hits, numbered, evidence=_select("병가는 며칠인가요?", hits))
    assert answer == Grounded("구분: 병가 · 일수: 30일 · 비고: 진단서 필요 [1]", (numbered[0],), "evidence")
    none = GROUNDING.quote("화성의 위성은 몇 개인가요?", hits, numbered,
                           evidence=_select("화성의 위성은 몇 개인가요?", hits))
    assert (none.text, none.method) == ("문서에는 그 내용이 없습니다.", "none")
