"""End-to-end answer evaluation: retrieval + generation on a QA set with gold answers (KorQuAD 1.0).

A fixed-seed sample of questions is answered over the whole corpus; a second sample is asked with
its own paragraph hidden from retrieval, so the right answer is to say the sources do not hold it.

Per question: does the answer contain a gold answer (normalized: case, spaces, punctuation, and a
Korean particle after the span), token F1 against the best gold, is it in the question's language,
citation precision (cited chunks from the gold paragraph) and recall (the gold paragraph cited),
did it refuse, were instructions echoed, seconds.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from foldrag.answering.events import Answer
from foldrag.answering.question import Question, Ranking
from foldrag.retrieval.hybrid import Retrieval
from foldrag.core.tokenize import has_hangul
from foldrag.evaluation.datasets import EvalSet
from foldrag.evaluation.metrics import percentile
from foldrag.generation.citations import without_markers
from foldrag.generation.guards import is_refusal
from foldrag.generation.prompting import ENGLISH, KOREAN

_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)
_HANGUL = re.compile(r"[\uac00-\ud7a3]")
# Korean particles that may follow a span in an answer but not in the gold ("1867년에" for "1867년").
_PARTICLES = ("에서는", "에서", "으로", "에게", "까지", "부터", "이며", "이다", "은", "는", "이", "가", "을", "를",
              "에", "의", "로", "와", "과", "도", "만")


@dataclass(frozen=True)
class AnswerCase:
    qid: str
    question: str
    gold: tuple[str, ...]
    doc_id: str
    unanswerable: bool  # asked with its own paragraph hidden from retrieval


def sample_cases(data: EvalSet, limit: int, unanswerable: int, seed: int = 0) -> list[AnswerCase]:
    """``limit`` answerable and ``unanswerable`` hidden-paragraph questions, drawn without overlap."""
    ids = sorted(q for q in data.queries if data.answers.get(q))
    random.Random(seed).shuffle(ids)
    cases = []
    for n, qid in enumerate(ids[:limit + unanswerable]):
        (doc_id,) = data.qrels[qid]
        cases.append(AnswerCase(qid, data.queries[qid], data.answers[qid], doc_id, unanswerable=n >= limit))
    return cases


def normalize(text: str) -> str:
    """Lower case, no citation markers, no spaces or punctuation."""
    text = unicodedata.normalize("NFC", without_markers(text)).lower()
    return _NOT_WORD.sub("", text)


def _without_particle(gold: str) -> str:
    for particle in _PARTICLES:
        if gold.endswith(particle) and len(gold) > len(particle) + 1:
            return gold[:-len(particle)]
    return gold


def contains_gold(answer: str, golds: Iterable[str]) -> bool:
    said = normalize(answer)
    for gold in golds:
        g = normalize(gold)
        if g and (g in said or _without_particle(g) in said):
            return True
    return False


def token_f1(answer: str, golds: Iterable[str], tokenize: Callable[[str], list[str]]) -> float:
    """The best F1 over the golds, on keyword tokens (Kiwi content morphemes, stemmed English words);
    a gold without keywords is compared by characters."""
    best = 0.0
    for gold in golds:
        gold_tokens = tokenize(gold)
        said, want = (Counter(tokenize(without_markers(answer))), Counter(gold_tokens)) if gold_tokens else \
            (Counter(normalize(answer)), Counter(normalize(gold)))
        common = sum((said & want).values())
        if common:
            precision, recall = common / sum(said.values()), common / sum(want.values())
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def in_question_language(answer: str, question: str) -> bool:
    """Korean question: at least half the answer's letters are Hangul; otherwise under a fifth. An
    answer of at most three words ("Fender", "98", "380 W") is a name or a figure, in no language."""
    text = without_markers(answer)
    if text.split() and len(text.split()) <= 3:
        return True
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return False
    share = sum(bool(_HANGUL.match(ch)) for ch in letters) / len(letters)
    return share >= 0.5 if has_hangul(question) else share < 0.2


def echoes_instructions(answer: Answer) -> bool:
    """Whether the instructions were echoed: removed from the text (``answer.echoed``) or still in it."""
    said = normalize(answer.answer)
    return answer.echoed > 0 or any(normalize(line) in said for line in (KOREAN, ENGLISH))


def score(case: AnswerCase, answer: Answer, doc_of: Callable[[str], str | None],
          tokenize: Callable[[str], list[str]], seconds: float) -> dict[str, Any]:
    cited = [doc_of(c.source) for c in answer.citations]
    row: dict[str, Any] = {
        "qid": case.qid, "question": case.question, "gold": list(case.gold), "answer": answer.answer,
        "unanswerable": case.unanswerable, "citation_method": answer.citation_method,
        "cited_docs": cited, "gold_doc": case.doc_id, "refused": is_refusal(answer.answer),
        "language_ok": in_question_language(answer.answer, case.question), "echoed": echoes_instructions(answer),
        "looped": answer.looped, "seconds": round(seconds, 3),
        "first_token_s": round(answer.timings.get("first_token_s", 0.0), 3),
        "prompt_computed_tokens": int(answer.timings.get("prompt_computed_tokens", 0)),
        "prompt_reused_tokens": int(answer.timings.get("prompt_reused_tokens", 0)),
        "prefill_saved_s": round(answer.timings.get("prefill_saved_s", 0.0), 3),
    }
    if not case.unanswerable:
        row.update(contains_gold=contains_gold(answer.answer, case.gold),
                   f1=round(token_f1(answer.answer, case.gold, tokenize), 4),
                   citation_precision=(sum(d == case.doc_id for d in cited) / len(cited)) if cited else None,
                   citation_recall=case.doc_id in cited)
    return row


def rescore(rows: list[dict[str, Any]], tokenize: Callable[[str], list[str]]) -> list[dict[str, Any]]:
    """The rows of an earlier report scored again from their texts (contains-gold, F1, language,
    refusal): a change of these rules needs no new answers. Citation fields are kept."""
    out = []
    for row in rows:
        row = dict(row, language_ok=in_question_language(row["answer"], row["question"]),
                   refused=is_refusal(row["answer"]))
        if not row["unanswerable"]:
            row.update(contains_gold=contains_gold(row["answer"], row["gold"]),
                       f1=round(token_f1(row["answer"], row["gold"], tokenize), 4))
        out.append(row)
    return out


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Means over the answerable rows (citation precision over those that cite), refusal rate over the
    unanswerable ones, language, echo and timing over all."""
    answerable = [r for r in rows if not r["unanswerable"]]
    hidden = [r for r in rows if r["unanswerable"]]
    citing = [r for r in answerable if r["citation_precision"] is not None]
    seconds = [r["seconds"] for r in rows]
    first = [r["first_token_s"] for r in rows if "first_token_s" in r]  # rows of older reports lack it
    computed = sum(r.get("prompt_computed_tokens", 0) for r in rows)
    reused = sum(r.get("prompt_reused_tokens", 0) for r in rows)

    def mean(values: list[float]) -> float | None:
        return round(sum(values) / len(values), 4) if values else None

    return {
        "answerable": len(answerable), "unanswerable": len(hidden),
        "contains_gold": mean([float(r["contains_gold"]) for r in answerable]),
        "f1": mean([r["f1"] for r in answerable]),
        "language_ok": mean([float(r["language_ok"]) for r in rows]),
        "citation_precision": mean([r["citation_precision"] for r in citing]),
        "citation_recall": mean([float(r["citation_recall"]) for r in answerable]),
        "answers_citing": mean([float(r["citation_precision"] is not None) for r in answerable]),
        "refusal_rate": mean([float(r["refused"]) for r in hidden]),
        "false_refusal_rate": mean([float(r["refused"]) for r in answerable]),
        "echoed": sum(bool(r["echoed"]) for r in rows),
        "looped": sum(bool(r["looped"]) for r in rows),
        "methods": dict(Counter(r["citation_method"] for r in rows)),
        "seconds_mean": mean(seconds),
        "seconds_p95": round(percentile(seconds, 0.95), 3) if seconds else None,
        "first_token_s_mean": mean(first),
        "prompt_reused_share": round(reused / (computed + reused), 4) if computed + reused else None,
        "prefill_saved_s": round(sum(r.get("prefill_saved_s", 0.0) for r in rows), 3),
    }


@dataclass(frozen=True)
class HiddenDocument:
    """A question's retriever as if ``doc_id`` were not in the index: its chunks are dropped."""

    retriever: Ranking
    doc_of: Callable[[str], str | None]
    doc_id: str
    extra: int = 20  # ranked beyond k, so that k remain after the drop

    def retrieve(self, query: str, k: int, mode: str) -> Retrieval:
        result = self.retriever.retrieve(query, k + self.extra, mode)
        kept = tuple(h for h in result.hits if self.doc_of(h.chunk.source) != self.doc_id)[:k]
        return replace(result, hits=kept)


def run_answers(cases: list[AnswerCase], prepare: Callable[[str], Question], ask: Callable[[Question], Answer],
                doc_of: Callable[[str], str | None], tokenize: Callable[[str], list[str]],
                progress: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    """Answer every case (a hidden-paragraph case over ``HiddenDocument``) and score it."""
    import time

    rows = []
    for case in cases:
        t0 = time.perf_counter()
        question = prepare(case.question)
        if case.unanswerable:
            question = replace(question, retriever=HiddenDocument(question.retriever, doc_of, case.doc_id))
        answer = ask(question)
        rows.append(score(case, answer, doc_of, tokenize, time.perf_counter() - t0))
        if progress:
            progress(1)
    return rows
