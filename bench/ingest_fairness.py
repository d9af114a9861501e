"""Retrieval while an ingest runs: requests/s and p99 of hybrid retrieval alone, then with an ingest of
another collection embedding on the same model (as `foldrag serve` shares one embedder).

Usage:  .venv/bin/python bench/ingest_fairness.py [--seconds 30] [--docs 1500] [--json]

The served collection is examples/docs; the ingest writes --docs SciFact abstracts (../shared/data)
as files into a temporary folder and ingests them into a second index. Retrieval runs in one thread
back to back with SciFact queries; the target (the hardening issue) is >= 0.7x the idle rate.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
SCIFACT = REPO.parent / "shared" / "data" / "beir-scifact"


def _measure(rag, queries: list[str], seconds: float) -> dict:
    latencies, n = [], 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        rag.search(queries[n % len(queries)], k=10, mode="hybrid")
        latencies.append(time.perf_counter() - t0)
        n += 1
    return {"requests_per_s": round(n / seconds, 1), "p50_ms": round(float(np.percentile(latencies, 50)) * 1000, 1),
            "p99_ms": round(float(np.percentile(latencies, 99)) * 1000, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--docs", type=int, default=1500)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not SCIFACT.exists():
        raise SystemExit(f"{SCIFACT} missing: the benchmark needs ../shared/data")
    from foldrag.build import build_rag
    from foldrag.core.settings import Settings

    work = Path(tempfile.mkdtemp(prefix="foldrag-fair-"))
    served = build_rag(Settings.load(index={"path": work / "served"}))
    served.ingest(REPO / "examples" / "docs")
    corpus = work / "corpus"
    corpus.mkdir()
    with open(SCIFACT / "corpus.jsonl", encoding="utf-8") as handle:
        for i, line in zip(range(args.docs), handle):
            row = json.loads(line)
            (corpus / f"{row['_id']}.md").write_text(f"# {row.get('title', '')}\n\n{row.get('text', '')}\n", encoding="utf-8")
    with open(SCIFACT / "queries.jsonl", encoding="utf-8") as handle:
        queries = [json.loads(line)["text"] for line in handle][:300]
    other_settings = Settings.load(index={"path": work / "other"})
    other = build_rag(other_settings, embedder=served.load_embedder(), tokenizer=served.tokenizer)
    _measure(served, queries, 3)  # warm up
    idle = _measure(served, queries, args.seconds)
    done = threading.Event()
    ingest_s = {}
    chunks_done = [0]

    class Counting:  # how far the ingest got while the queries ran
        def start(self, total_files: int) -> None: ...
        def advance(self, files: int, chunks: int) -> None:
            chunks_done[0] += chunks
        def note(self, text: str) -> None: ...
        def close(self) -> None: ...

    def ingest() -> None:
        t0 = time.perf_counter()
        other.ingest(corpus, progress=Counting())
        ingest_s["seconds"] = round(time.perf_counter() - t0, 1)
        done.set()

    threading.Thread(target=ingest, daemon=True).start()
    time.sleep(2)  # parsing has started; embedding is under way
    busy = _measure(served, queries, args.seconds)
    still_ingesting = not done.is_set()
    chunks_under_load = chunks_done[0]
    done.wait()
    result = {"idle": idle, "during_ingest": busy, "ratio": round(busy["requests_per_s"] / idle["requests_per_s"], 2),
              "ingest_still_running_at_end": still_ingesting, "ingest": {"docs": args.docs, **ingest_s,
                                                                 "chunks_embedded_while_queried": chunks_under_load},
              "cpu": os.cpu_count()}
    print(json.dumps(result, indent=2) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
