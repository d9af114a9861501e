"""Does BM25 gain from the question's keywords in the other language? (issue 31, item 3)

For each cross-lingual question (bench/sets/scifact-ko.jsonl over SciFact's English abstracts,
bench/sets/korquad-en.jsonl over KorQuAD's Korean paragraphs) the answering model writes the
question's search keywords in the corpus's language, in one call (as the multi-query rewrites are
written); the retrieval then runs foldrag's multi mode over [question, keywords] — each on dense
and BM25, all lists fused by RRF — against hybrid over the question alone. Prints nDCG@10 and
Recall@5 of: hybrid, BM25 of the keywords alone, and multi with the keywords; and the seconds each
keywords call took. Uses the index that `foldrag eval` built for the embedder (run
bench/multilingual_retrieval.py first) and the configured answering model.

    python bench/translated_keywords.py [--embedder bundled:multilingual-e5-small] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data"
sys.path.insert(0, str(HERE))
from ingest_throughput import cpu_name  # noqa: E402

PROMPT = """Write the search keywords of the question below in {language}: the key terms, names and \
numbers, translated, on one line, separated by spaces, with no other text.

Question: {question}"""
SETS = [
    ("scifact-ko", DATA / "beir-scifact", HERE / "sets" / "scifact-ko.jsonl", "English"),
    ("korquad-en", DATA / "korquad-v1-dev" / "KorQuAD_v1.0_dev.json", HERE / "sets" / "korquad-en.jsonl", "Korean (한국어)"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedder", default="bundled:multilingual-e5-small")
    parser.add_argument("--limit", type=int)
    args = parser.parse_args()
    os.environ["FOLDRAG_EMBEDDING__MODEL"] = args.embedder

    from foldrag.build import build_rag
    from foldrag.core.contracts import complete
    from foldrag.core.settings import Settings
    from foldrag.evaluation.datasets import load_dataset, with_queries
    from foldrag.evaluation.metrics import ndcg_at, recall_at
    from foldrag.evaluation.runner import default_eval_dir, documents_from_hits, write_corpus
    from foldrag.retrieval import multi_query
    from foldrag.retrieval.multi_query import Rewrites

    keywords: dict[str, str] = {}  # question → its translated keywords (written below, before multi runs)
    multi_query.QueryRewriter.__call__ = lambda self, question: Rewrites((question.strip(), keywords[question]))
    report = {"cpu": cpu_name(), "embedder": args.embedder, "sets": {}}
    for name, dataset_path, questions, language in SETS:
        data = with_queries(load_dataset(dataset_path), questions)
        work = default_eval_dir(data, dataset_path, args.embedder)
        if not (work / "index").exists():
            raise SystemExit(f"no eval index at {work}: run bench/multilingual_retrieval.py first")
        settings = Settings.load(index={"path": work / "index"})
        settings = settings.model_copy(update={"retrieval": settings.retrieval.model_copy(update={"candidates": 100})})
        rag = build_rag(settings, with_generator=True)
        mapping = write_corpus(data, work / "corpus")
        generator = rag.load_generator()
        scores = {"hybrid": [], "bm25-keywords": [], "multi-keywords": []}
        recall5 = {k: [] for k in scores}
        seconds = []
        items = list(data.queries.items())[: args.limit]
        for qid, text in items:
            t0 = time.perf_counter()
            out = complete(generator, [{"role": "user", "content": PROMPT.format(language=language, question=text)}],
                           max_tokens=48, temperature=0.0)
            seconds.append(time.perf_counter() - t0)
            keywords[text] = " ".join(out.strip().splitlines()[:1]) or text
            runs = {"hybrid": (text, "hybrid"), "bm25-keywords": (keywords[text], "bm25"), "multi-keywords": (text, "multi")}
            for label, (query, mode) in runs.items():
                ranked = documents_from_hits(rag.search(query, k=100, mode=mode), mapping)
                scores[label].append(ndcg_at(ranked, data.qrels[qid], 10))
                recall5[label].append(recall_at(ranked, data.qrels[qid], 5))
            print(json.dumps({"set": name, "id": qid, "question": text, "keywords": keywords[text]}, ensure_ascii=False),
                  flush=True)
        n = len(items)
        report["sets"][name] = {"questions": n, "keywords_s_mean": round(sum(seconds) / n, 2),
                                **{k: {"ndcg@10": round(sum(v) / n, 4), "recall@5": round(sum(recall5[k]) / n, 4)}
                                   for k, v in scores.items()}}
        rag.close()
    print(json.dumps(report, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
