"""Evaluation sets as plain data: a corpus, queries and relevance judgements."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from foldrag.core.errors import InvalidInput, NotFound


@dataclass(frozen=True)
class EvalDoc:
    id: str
    title: str
    text: str


@dataclass(frozen=True)
class EvalSet:
    name: str
    split: str
    corpus: tuple[EvalDoc, ...]
    queries: dict[str, str]  # query id → text (only queries with judgements)
    qrels: dict[str, dict[str, int]]  # query id → {doc id: relevance}
    answers: dict[str, tuple[str, ...]] = field(default_factory=dict)  # query id → gold answers (QA sets)


def load_beir(folder: Path, split: str = "test") -> EvalSet:
    qrels_path = folder / "qrels" / f"{split}.tsv"
    for needed in (folder / "corpus.jsonl", folder / "queries.jsonl", qrels_path):
        if not needed.exists():
            raise NotFound(f"BEIR dataset file missing: {needed}")
    corpus = []
    with open(folder / "corpus.jsonl", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                corpus.append(EvalDoc(str(row["_id"]), row.get("title") or "", row.get("text") or ""))
    qrels: dict[str, dict[str, int]] = {}
    with open(qrels_path, encoding="utf-8") as handle:
        reader = csv.reader(handle, delimiter="\t")
        for row in reader:
            if not row or row[0] == "query-id":
                continue
            qid, did, score = row[0], row[1], int(row[2])
            if score > 0:
                qrels.setdefault(qid, {})[did] = score
    queries: dict[str, str] = {}
    with open(folder / "queries.jsonl", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                if str(row["_id"]) in qrels:
                    queries[str(row["_id"])] = row["text"]
    return EvalSet(folder.name, split, tuple(corpus), queries, {q: qrels[q] for q in queries})


def load_korquad(path: Path) -> EvalSet:
    """KorQuAD 1.0: each paragraph (title + context) is a document; each question is relevant to its paragraph."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))["data"]
    except (OSError, ValueError, KeyError) as exc:
        raise InvalidInput(f"not a KorQuAD 1.0 JSON file: {path}: {exc}") from exc
    corpus, queries, qrels, answers = [], {}, {}, {}
    for a, article in enumerate(data):
        for p, paragraph in enumerate(article["paragraphs"]):
            doc_id = f"a{a:04d}p{p:03d}"
            corpus.append(EvalDoc(doc_id, article.get("title", ""), paragraph["context"]))
            for qa in paragraph["qas"]:
                queries[qa["id"]] = qa["question"]
                qrels[qa["id"]] = {doc_id: 1}
                answers[qa["id"]] = tuple(dict.fromkeys(x["text"] for x in qa.get("answers", []) if x.get("text")))
    return EvalSet(path.stem, "dev", tuple(corpus), queries, qrels, answers)


def with_queries(dataset: EvalSet, path: Path) -> EvalSet:
    """``dataset``'s corpus asked other questions: a JSON Lines file, one question a line, as
    ``{"id", "text"}`` (judged by the dataset's qrels for that id: a translation of one of its
    questions), ``{"id"}`` alone (one of its own questions: a split of the dataset), or
    ``{"id", "text", "relevant": {doc id: grade}, "answers": [...]}`` (its own judgements)."""
    if not path.is_file():
        raise NotFound(f"question file not found: {path}")
    known = {doc.id for doc in dataset.corpus}
    queries, qrels, answers = {}, {}, {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            qid = str(row["id"])
            text = str(row["text"]) if "text" in row else dataset.queries[qid]
            relevant = {str(d): int(g) for d, g in (row.get("relevant") or dataset.qrels.get(qid) or {}).items()}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidInput(f"{path}:{number}: not a question line ({exc})") from exc
        if not relevant:
            raise InvalidInput(f"{path}:{number}: question {qid!r} has no judgements here or in {dataset.name}")
        if not set(relevant) <= known:
            raise InvalidInput(f"{path}:{number}: question {qid!r} names documents not in {dataset.name}")
        queries[qid], qrels[qid] = text, relevant
        answers[qid] = tuple(row.get("answers") or dataset.answers.get(qid, ()))
    return replace(dataset, queries=queries, qrels=qrels,
                   answers={q: a for q, a in answers.items() if a})


def load_dataset(path: Path, split: str = "test") -> EvalSet:
    if path.is_dir():
        return load_beir(path, split)
    if path.suffix == ".json":
        return load_korquad(path)
    if not path.exists():
        raise NotFound(f"dataset not found: {path}")
    raise InvalidInput(f"{path} is neither a BEIR folder (corpus.jsonl, queries.jsonl, qrels/) nor a KorQuAD .json file")
