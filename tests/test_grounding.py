"""The answer's floor and guards: extractive quotes, loop stops, echoed instructions, refusals, and
what the answerer and the API make of them."""

from __future__ import annotations

import pytest

from foldrag.build import build_rag
from foldrag.core.types import Chunk, Hit
from foldrag.generation.citations import source_citation
from foldrag.generation.extractive import NOT_IN_SOURCES, quote_answer, split_sentences
from foldrag.generation.grounding import Grounding
from foldrag.generation.guards import LoopGuard, is_refusal, strip_echo
from foldrag.generation.prompting import ENGLISH, KOREAN, instructions_for
from tests.fakes import ScriptedChat
from tests.server_support import shared_tokenizer

PARIS = "France is in Europe. The capital of France is Paris, on the Seine. It has many museums."
SEOUL = "대한민국은 동아시아에 있다. 대한민국의 수도는 서울이며 한강이 흐른다. 인구는 약 5천만 명이다."


def _hits(*texts):
    return [Hit(Chunk(id=f"c{n}", source=f"doc{n}.md", text=t), 1.0 / n) for n, t in enumerate(texts, start=1)]


def _numbered(hits):
    return [source_citation(n, h) for n, h in enumerate(hits, start=1)]


def test_sentences_keep_decimals_and_drop_markup():
    assert split_sentences("# Title\n\n- Llama 3.1 runs. It is fast!\n1. Third") == [
        "Title", "Llama 3.1 runs.", "It is fast!", "Third"]
    assert split_sentences(". 청룡영화상을 받았다. 끝") == ["청룡영화상을 받았다.", "끝"]  # a chunk cut after a full stop


@pytest.mark.parametrize("question, expected", [
    ("What is the capital of France?", "The capital of France is Paris, on the Seine [2]."),
    ("대한민국의 수도는 어디인가?", "대한민국의 수도는 서울이며 한강이 흐른다 [1]."),
])
def test_quote_takes_the_sentence_that_answers_and_cites_its_source(question, expected):
    hits = _hits(SEOUL, PARIS)
    assert quote_answer(question, hits, shared_tokenizer()) == expected


@pytest.mark.parametrize("question, refusal", [
    ("Who painted the Mona Lisa?", NOT_IN_SOURCES["en"]),
    ("모나리자를 그린 화가는 누구인가?", NOT_IN_SOURCES["ko"]),
])
def test_quote_refuses_in_the_question_language_when_no_sentence_answers(question, refusal):
    assert quote_answer(question, _hits(PARIS, SEOUL), shared_tokenizer()) == refusal
    assert is_refusal(refusal)


def test_quote_uses_the_scorer_when_given():
    calls = []

    def scorer(question, sentences):
        calls.append(sentences)
        return [1.0 if "museums" in s else 0.0 for s in sentences]

    text = quote_answer("France Paris museums", _hits(PARIS), shared_tokenizer(), scorer=scorer, min_coverage=0.3)
    assert calls and text == "It has many museums [1]."


def test_loop_guard_stops_a_repeated_question_and_keeps_one_copy():
    guard = LoopGuard()
    pieces = ["답: "] + ["한국의 수도는 어디인가요? "] * 6
    stopped_at = next(i for i, p in enumerate(pieces) if guard.feed(p))
    assert stopped_at == 3 and guard.looped
    assert guard.text == "답: 한국의 수도는 어디인가요? "


def test_loop_guard_stops_a_numbered_list_of_one_line():
    guard = LoopGuard()
    line = "The index is a folder: a FAISS file with the vectors. "
    pieces = [f"{n}. {line}" for n in range(1, 9)]
    stopped_at = next(i for i, p in enumerate(pieces) if guard.feed(p))
    assert stopped_at == 2 and guard.text == f"1. {line}"


def test_loop_guard_lets_ordinary_text_through():
    guard = LoopGuard()
    text = ("RRF adds 1/(k + rank) for each list. Dense and BM25 lists are fused. The k is 60. "
            "Ha ha ha. ... --- === ")
    assert not any(guard.feed(ch) for ch in text)
    assert guard.text == text and not guard.looped


def test_echoed_instructions_are_removed():
    question = "한국의 수도는?"
    answer = "질문이 한국어이므로 한국어로 답하세요. 서울입니다 [1]."
    assert strip_echo(answer, instructions_for(question)) == ("서울입니다 [1].", 1)
    assert strip_echo("서울입니다 [1].", instructions_for(question)) == ("서울입니다 [1].", 0)
    asked = "대한민국의 수도는 어디인가?"
    assert strip_echo(f"{asked} 서울 [1].", instructions_for(asked), asked) == ("서울 [1].", 1)
    stutter = "질문이 한국어이므로 한국어이므로 한국어로 답하세"
    assert strip_echo(f"서울 [1]. {stutter}", instructions_for(question)) == ("서울 [1].", 1)
    refusal = "The documents do not say."  # the instructions word it, but it is the answer
    assert strip_echo(refusal, instructions_for("Where?")) == (refusal, 0)


@pytest.mark.parametrize("text, refused", [
    ("The documents do not say.", True),
    ("The sources do not contain that information.", True),
    ("문서에 해당 내용이 없습니다.", True),
    ("제공된 자료에는 나와 있지 않습니다.", True),
    ("Paris is the capital [1].", False),
    ("서울은 수도이다.", False),
])
def test_refusals_are_recognised(text, refused):
    assert is_refusal(text) is refused


def test_answer_language_follows_the_question():
    assert instructions_for("한국의 수도는?").endswith(KOREAN)
    assert instructions_for("What is the capital of Korea?").endswith(ENGLISH)
    assert not instructions_for("日本の首都は?").endswith((KOREAN, ENGLISH))


@pytest.mark.parametrize("answer, method, text", [
    ("Paris is the capital [2].", "model", "Paris is the capital [2]."),
    # nothing but a marker: the sentence it points at is quoted
    ("[2]", "extractive", "The capital of France is Paris, on the Seine [2]."),
    (" [1].", "extractive", "The capital of France is Paris, on the Seine [2]."),  # [1] has no such sentence
    ("The documents do not say.", "none", "The documents do not say."),
    ("The capital of France is Paris.", "inferred", "The capital of France is Paris [2]."),
    # says nothing the sources say: replaced by the best source sentence, cited
    ("Bananas are yellow and grow fast. What is the capital of France?", "extractive",
     "The capital of France is Paris, on the Seine [2]."),
])
def test_grounding_policy(answer, method, text):
    hits = _hits(SEOUL, PARIS)
    grounded = Grounding(shared_tokenizer()).ground(answer, "What is the capital of France?",
                                                    instructions_for("x"), hits, _numbered(hits))
    assert (grounded.method, grounded.text) == (method, text)
    assert bool(grounded.citations) == (method != "none")


def test_a_refusal_is_said_in_the_questions_language():
    hits = _hits(PARIS)
    grounded = Grounding(shared_tokenizer()).ground("The documents do not say.", "모나리자를 그린 화가는?", "",
                                                    hits, _numbered(hits))
    assert (grounded.text, grounded.method) == (NOT_IN_SOURCES["ko"], "none")
    assert instructions_for("모나리자를 그린 화가는?").startswith("번호가 붙은 출처만")


def test_restating_the_question_is_not_support():
    hits = _hits(SEOUL)
    grounding = Grounding(shared_tokenizer(), fallback=False)
    question = "대한민국의 수도는 어디인가?"
    restated = grounding.ground("대한민국의 수도는 어디", question, "", hits, _numbered(hits))
    assert restated.citations == () and restated.method == "none"
    answered = grounding.ground("대한민국의 수도는 서울이다.", question, "", hits, _numbered(hits))
    assert answered.method == "inferred" and answered.text == "대한민국의 수도는 서울이다 [1]."


def test_unsupported_answer_without_fallback_keeps_its_text_uncited():
    hits = _hits(PARIS)
    grounded = Grounding(shared_tokenizer(), fallback=False).ground(
        "Bananas are yellow.", "What is the capital of France?", "", hits, _numbered(hits))
    assert (grounded.text, grounded.citations, grounded.method) == ("Bananas are yellow.", (), "none")


@pytest.fixture
def rag_for(tmp_path, settings, fake_embedder):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "paris.md").write_text("# France\n\n" + PARIS)
    (docs / "seoul.md").write_text("# 한국\n\n" + SEOUL)

    def make(generator, **generation):
        settings_ = settings.model_copy(update={
            "retrieval": settings.retrieval.model_copy(update={"mode": "hybrid"}),
            "generation": settings.generation.model_copy(update=generation)})
        rag = build_rag(settings_, embedder=fake_embedder, generator=generator, tokenizer=shared_tokenizer())
        rag.ingest(docs)
        return rag

    return make


def test_quote_mode_answers_without_running_the_model(rag_for):
    gen = ScriptedChat()  # would fail if called: it has no reply
    events = list(rag_for(gen, mode="quote").stream("What is the capital of France?"))
    assert [e.stage for e in events if e.kind == "status"] == ["retrieving", "quoting"]
    answer = events[-1].answer
    assert answer.citation_method == "evidence" and answer.engine == "extractive"
    assert answer.answer.startswith("The capital of France is Paris, on the Seine [")
    assert [c.source for c in answer.citations] == ["paris.md"] and gen.calls == []


def test_quote_mode_works_with_no_model_configured(rag_for):
    answer = rag_for(None, mode="quote", model="none").ask("대한민국의 수도는 어디인가?")
    assert answer.answer.startswith("대한민국의 수도는 서울이며") and answer.citations[0].source == "seoul.md"


def test_a_looping_model_is_stopped_and_its_loop_cut(rag_for):
    loop = "The capital of France is Paris. " * 40
    gen = ScriptedChat(loop, piece=4)
    answer = rag_for(gen, max_new_tokens=1024).ask("What is the capital of France?")
    assert answer.looped and gen.yielded < len(loop) // 4, "the stream was closed early"
    assert answer.answer == "The capital of France is Paris [1]." and answer.citation_method == "inferred"


def test_an_echoed_korean_instruction_never_reaches_the_answer(rag_for):
    gen = ScriptedChat("질문이 한국어이므로 한국어로 답하세요. 수도는 서울입니다 [1].")
    answer = rag_for(gen).ask("대한민국의 수도는?")
    assert answer.answer == "수도는 서울입니다 [1]." and answer.echoed == 1


RRF_PAGE = ("Reciprocal Rank Fusion (RRF) merges several ranked lists into one. Each document scores the sum "
            "of 1 / (k + rank) over the lists it appears in, with k = 60 by default.")


def test_a_korean_answer_over_an_english_page_is_cited_by_its_names_numbers_and_formulas():
    """The demo's Korean question over the English RRF page: the model answered right but wrote no
    [n]; the sentences share only Latin tokens with the page, which then decide (inferred)."""
    hits = _hits(SEOUL, RRF_PAGE)
    grounding = Grounding(shared_tokenizer(), fallback=False)
    question = "RRF는 여러 순위 목록을 어떻게 합치나요?"
    answer = "RRF는 각 문서의 순위를 1 / (k + rank)로 계산하여 합산합니다. k는 60으로 설정되어 있으며, 이는 기본값입니다."
    grounded = grounding.ground(answer, question, "", hits, _numbered(hits))
    assert grounded.method == "inferred"
    assert grounded.text == ("RRF는 각 문서의 순위를 1 / (k + rank)로 계산하여 합산합니다 [2]. "
                             "k는 60으로 설정되어 있으며, 이는 기본값입니다 [2].")
    # one shared token is not support; and a Korean source is weighed on all its words, as before
    lone = grounding.ground("이 방법은 k를 씁니다.", question, "", hits, _numbered(hits))
    assert lone.citations == () and lone.method == "none"
    korean = grounding.ground("대한민국의 수도는 서울이다.", "수도는?", "", hits, _numbered(hits))
    assert korean.text == "대한민국의 수도는 서울이다 [1]."
