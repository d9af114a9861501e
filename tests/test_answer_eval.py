"""`foldrag eval --answers`: the scoring of one answer, the sample, the hidden paragraph, the CLI."""

from __future__ import annotations

import json

import pytest

from foldrag.answering.events import Answer
from foldrag.core.types import Chunk, Hit
from foldrag.evaluation.answers import (
    AnswerCase, HiddenDocument, contains_gold, in_question_language, normalize, sample_cases, score, summarize,
    token_f1,
)
from foldrag.evaluation.datasets import EvalDoc, EvalSet, load_korquad
from foldrag.generation.citations import Citation
from foldrag.retrieval.hybrid import Retrieval, Trace
from tests.conftest import run_cli
from tests.server_support import shared_tokenizer


def _citation(n, source):
    return Citation(n=n, chunk_id=f"c{n}", source=source, page=None, snippet="", score=1.0)


def _answer(text, *sources, echoed=0):
    return Answer(answer=text, reasoning="", citations=tuple(_citation(n, s) for n, s in enumerate(sources, 1)),
                  queries=(), timings={}, echoed=echoed)


@pytest.mark.parametrize("answer, golds, expected", [
    ("Paris, France [1].", ("paris",), True),
    ("그는 1867년에 태어났다 [1].", ("1867년",), True),
    ("수도는 서울 입니다.", ("서울에서",), True),  # the gold's particle is not asked for
    ("수도는 부산이다.", ("서울",), False),
    ("", ("서울",), False),
])
def test_contains_gold_normalizes_case_spaces_markers_and_particles(answer, golds, expected):
    assert contains_gold(answer, golds) is expected
    assert normalize("A [2] b, C!") == "abc"


def test_token_f1_on_keywords_and_characters():
    tok = shared_tokenizer()
    assert token_f1("The capital is Paris.", ("Paris",), tok) == pytest.approx(2 * 0.5 * 1 / 1.5)
    assert token_f1("서울", ("서울",), tok) == 1.0
    assert token_f1("부산", ("서울",), tok) == 0.0
    assert token_f1("그는 1867년에 태어났다", ("1867",), tok) > 0


def test_answer_language():
    assert in_question_language("서울입니다 [1].", "수도는?")
    assert not in_question_language("It is Seoul [1].", "수도는?")
    assert in_question_language("It is Seoul [1].", "Capital?")
    assert not in_question_language("[1]", "Capital?")
    assert in_question_language("Fender [1]", "기타를 만든 회사는?")  # a name is in no language
    assert not in_question_language("The company that made it was Fender [1].", "기타를 만든 회사는?")


def test_score_and_summary():
    case = AnswerCase("q1", "한국의 수도는?", ("서울",), "d1", unanswerable=False)
    doc_of = {"a.md": "d1", "b.md": "d2"}.get
    row = score(case, _answer("서울입니다 [1][2].", "a.md", "b.md"), doc_of, shared_tokenizer(), 1.5)
    assert (row["contains_gold"], row["citation_precision"], row["citation_recall"]) == (True, 0.5, True)
    hidden = AnswerCase("q2", "한국의 수도는?", ("서울",), "d1", unanswerable=True)
    refused = score(hidden, _answer("문서에는 그 내용이 없습니다.", echoed=1), doc_of, shared_tokenizer(), 0.5)
    assert refused["refused"] and refused["echoed"] and "contains_gold" not in refused
    summary = summarize([row, refused])
    assert (summary["answerable"], summary["unanswerable"]) == (1, 1)
    assert (summary["contains_gold"], summary["citation_precision"], summary["refusal_rate"]) == (1.0, 0.5, 1.0)
    assert summary["false_refusal_rate"] == 0.0 and summary["echoed"] == 1 and summary["seconds_mean"] == 1.0


def test_rescoring_a_report_from_its_texts():
    from foldrag.evaluation.answers import rescore

    row = {"qid": "q", "question": "수도는?", "gold": ["서울"], "answer": "서울 [1]", "unanswerable": False,
           "language_ok": False, "refused": False, "contains_gold": False, "f1": 0.0, "citation_precision": 1.0}
    (again,) = rescore([row], shared_tokenizer())
    assert again["language_ok"] and again["contains_gold"] and again["f1"] == 1.0 and again["citation_precision"] == 1.0


def _toy_set():
    docs = tuple(EvalDoc(f"d{i}", "", f"text {i}") for i in range(30))
    queries = {f"q{i}": f"question {i}" for i in range(30)}
    return EvalSet("toy", "dev", docs, queries, {f"q{i}": {f"d{i}": 1} for i in range(30)},
                   {f"q{i}": (f"a{i}",) for i in range(30)})


def test_sample_is_fixed_by_its_seed_and_never_overlaps():
    data = _toy_set()
    first, again, other = sample_cases(data, 10, 5, 0), sample_cases(data, 10, 5, 0), sample_cases(data, 10, 5, 1)
    assert first == again and first != other
    assert [c.unanswerable for c in first] == [False] * 10 + [True] * 5
    assert len({c.qid for c in first}) == 15


def test_hidden_paragraph_never_reaches_the_answer():
    hits = tuple(Hit(Chunk(id=f"c{i}", source=f"{i % 3}.md", text="t"), 1.0) for i in range(12))

    class Ranked:
        def retrieve(self, question, k, mode):
            return Retrieval(hits[:k], Trace("hybrid", (question,), (), (), {}))

    hidden = HiddenDocument(Ranked(), {"0.md": "d0", "1.md": "d1", "2.md": "d2"}.get, "d0").retrieve(
        "q", 5, "hybrid")
    assert len(hidden.hits) == 5 and all(h.chunk.source != "0.md" for h in hidden.hits)


PARAGRAPHS = [
        ("서울", "대한민국의 수도는 서울이다. 서울에는 한강이 흐른다.", "대한민국의 수도는 어디인가?", "서울"),
        ("파리", "프랑스의 수도는 파리이다. 파리에는 센강이 흐른다.", "프랑스의 수도는 어디인가?", "파리"),
        ("도쿄", "일본의 수도는 도쿄이다. 도쿄는 혼슈에 있다.", "일본의 수도는 어디인가?", "도쿄"),
]


def _toy_korquad(path):
    data = {"version": "KorQuAD_v1.0_dev", "data": [
        {"title": title, "paragraphs": [{"context": context, "qas": [
            {"id": f"q{i}", "question": question, "answers": [{"text": gold, "answer_start": context.index(gold)}]}]}]}
        for i, (title, context, question, gold) in enumerate(PARAGRAPHS)]}
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.mark.slow
def test_eval_answers_cli_on_a_korquad_shaped_file(tmp_path):
    path = _toy_korquad(tmp_path / "toy.json")
    assert load_korquad(path).answers == {"q0": ("서울",), "q1": ("파리",), "q2": ("도쿄",)}
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "FOLDRAG_GENERATION__MODE": "quote"}
    out = run_cli("eval", str(path), "--answers", "--limit", "2", "--unanswerable", "1", "--json", env=env)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["generation"] == {"mode": "quote", "backend": "none", "model": "none"}
    summary, rows = report["summary"], report["rows"]
    assert (summary["answerable"], summary["unanswerable"], len(rows)) == (2, 1, 3)
    assert summary["contains_gold"] == 1.0 and summary["citation_precision"] == 1.0
    assert rows[-1]["unanswerable"] and rows[-1]["refused"], rows[-1]
    assert rows[-1]["gold_doc"] not in rows[-1]["cited_docs"]
    table = run_cli("eval", str(path), "--answers", "--limit", "2", "--unanswerable", "1", env=env)
    assert "contains gold 100.0%" in table.stdout and "refusals: 100.0% of hidden-paragraph questions" in table.stdout
    beir = tmp_path / "beir"
    (beir / "qrels").mkdir(parents=True)
    for name in ("corpus.jsonl", "queries.jsonl"):
        (beir / name).write_text("")
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n")
    refused = run_cli("eval", str(beir), "--answers", env=env)
    assert refused.returncode == 2 and "error:" in refused.stderr and "no gold answers" in refused.stderr  # invalid_input


@pytest.mark.slow
def test_eval_answers_with_the_bundled_model(tmp_path):
    """The generate path end to end: the model loads before the clock, every row is scored."""
    path = _toy_korquad(tmp_path / "toy.json")
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "FOLDRAG_GENERATION__MAX_NEW_TOKENS": "48"}
    out = run_cli("eval", str(path), "--answers", "--limit", "2", "--unanswerable", "1", "--mode", "hybrid",
                  "--json", env=env)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["generation"]["mode"] == "generate" and report["generation"]["model"].startswith("bundled:")
    assert report["load_s"] > 0 and len(report["rows"]) == 3
    for row in report["rows"]:
        assert row["citation_method"] in ("model", "inferred", "evidence", "extractive", "none")
        assert row["seconds"] > 0 and isinstance(row["answer"], str)  # each answer timed on its own
        assert row["echoed"] in (True, False) and "question" in row
