"""The evidence selector alone: how often the top supporting sentence holds the gold answer.

KorQuAD 1.0 dev (the answer benchmark's 100 answerable questions, seed 0) and the 30 English
questions over Korean paragraphs (bench/sets/korquad-en.jsonl, gold in either language), over the
whole dev corpus indexed once (`foldrag eval`'s cached index), hybrid retrieval, k = 5. For each
weight of meaning against keywords: the share whose top sentence contains a gold answer, the share
where any of the four does, and the selection's milliseconds (embedding the sentences included).

Usage:  .venv/bin/python bench/evidence_selector.py [--weights 0 0.25 0.5 0.75 1] [--limit 100]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "korquad-v1-dev" / "KorQuAD_v1.0_dev.json"
ENGLISH = Path(__file__).resolve().parent / "sets" / "korquad-en.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--weights", type=float, nargs="+", default=[0.0, 0.25, 0.5, 0.75, 1.0])
    parser.add_argument("--limit", type=int, default=100)
    args = parser.parse_args()
    if not args.data.exists():
        raise SystemExit(f"{args.data} missing: the benchmark needs ../shared/data")

    from foldrag.build import build_rag
    from foldrag.core.settings import Settings
    from foldrag.evaluation.answers import contains_gold, sample_cases
    from foldrag.evaluation.datasets import load_dataset, with_queries
    from foldrag.evaluation.runner import default_eval_dir, write_corpus
    from foldrag.generation.evidence import select_evidence

    data = load_dataset(args.data)
    work = default_eval_dir(data, args.data, Settings.load().embedding.model)
    settings = Settings.load(index={"path": work / "index"})
    rag = build_rag(settings)
    write_corpus(data, work / "corpus")
    rag.ingest(work / "corpus")  # unchanged files are not read again
    embedder = rag.load_embedder()
    english = with_queries(data, ENGLISH)
    sets = {
        "KorQuAD (ko → ko)": [(c.question, c.gold) for c in sample_cases(data, args.limit, 0, seed=0)],
        "korquad-en (en → ko)": [(q, english.answers[qid]) for qid, q in english.queries.items()],
    }
    print("| set | weight (meaning) | top sentence holds gold | any of 4 | ms p50 |")
    print("|---|---|---|---|---|")
    for name, cases in sets.items():
        hits = [(q, gold, rag.search(q, k=5, mode="hybrid")) for q, gold in cases]
        for weight in args.weights:
            top = anywhere = 0
            ms = []
            for question, gold, found in hits:
                t0 = time.perf_counter()
                evidence = select_evidence(question, found, tokenize=rag.tokenizer,
                                           embed=embedder.embed if weight > 0 else None, meaning_weight=weight)
                ms.append(1000 * (time.perf_counter() - t0))
                top += bool(evidence) and contains_gold(evidence[0].text, gold)
                anywhere += any(contains_gold(e.text, gold) for e in evidence)
            n = len(hits)
            print(f"| {name} | {weight:.2f} | {top / n:.3f} ({top}/{n}) | {anywhere / n:.3f} | "
                  f"{statistics.median(ms):.0f} |", flush=True)


if __name__ == "__main__":
    main()
