"""Retrieval per embedder × mode, in each language and across: the table that chose
``embedding.model = "auto"`` (docs/BENCHMARKS.md, "Multilingual embedder").

Runs ``foldrag eval`` in a fresh process per (embedder, dataset), each embedder with its own index of
the same corpus (the eval cache keys it by the model), on:

- BEIR SciFact, its English claims, and ``bench/sets/scifact-ko.jsonl`` (50 of its test claims
  written in Korean, judged by SciFact's qrels) over the same English index;
- KorQuAD 1.0 dev, its Korean questions, and ``bench/sets/korquad-en.jsonl`` (30 English questions,
  each with its gold paragraph) over the same Korean index.

Also: ingest seconds (the eval's first ingest of each corpus: chunks/s and documents/s), and the peak
RSS of the process. Needs ../shared/data; prints JSON lines, one per run, and a Markdown table.

    python bench/multilingual_retrieval.py [--embedder bundled:all-MiniLM-L6-v2 ...] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(HERE))
from ingest_throughput import cpu_name  # noqa: E402

EMBEDDERS = ["bundled:all-MiniLM-L6-v2", "bundled:multilingual-e5-small"]
RUNS = [  # name, dataset, question file, modes
    ("scifact-en", DATA / "beir-scifact", None, ["dense", "hybrid"]),
    ("scifact-ko", DATA / "beir-scifact", HERE / "sets" / "scifact-ko.jsonl", ["dense", "bm25", "hybrid"]),
    ("korquad-ko", DATA / "korquad-v1-dev" / "KorQuAD_v1.0_dev.json", None, ["dense", "hybrid"]),
    ("korquad-en", DATA / "korquad-v1-dev" / "KorQuAD_v1.0_dev.json", HERE / "sets" / "korquad-en.jsonl",
     ["dense", "bm25", "hybrid"]),
]


def foldrag() -> list[str]:
    return [sys.executable, "-m", "foldrag.cli"]


def run(embedder: str, name: str, dataset: Path, questions: Path | None, modes: list[str], limit: int | None,
        env_extra: dict[str, str]) -> dict:
    cmd = foldrag() + ["eval", str(dataset), "--json"] + [a for m in modes for a in ("--mode", m)]
    if questions is not None:
        cmd += ["--queries", str(questions)]
    if limit:
        cmd += ["--limit", str(limit)]
    env = dict(os.environ, FOLDRAG_EMBEDDING__MODEL=embedder, **env_extra)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    report = json.loads(done.stdout)
    ingest = next((line for line in reversed(done.stderr.splitlines()) if "chunks/s" in line), "")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"embedder": embedder, "run": name, "queries": report["queries"], "results": report["results"],
            "seconds": round(seconds, 1), "ingest_line": ingest.strip(),
            "peak_rss_mb_children": round(max(peak, before) / 1024), "cpu": cpu_name()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedder", action="append", help="embedding.model values (default: both bundled)")
    parser.add_argument("--run", action="append", help="only these runs (scifact-en, scifact-ko, korquad-ko, korquad-en)")
    parser.add_argument("--limit", type=int, help="first N questions of each run")
    args = parser.parse_args()
    if not DATA.exists():
        raise SystemExit(f"{DATA} not found: this benchmark needs ../shared/data")
    rows = []
    for embedder in args.embedder or EMBEDDERS:
        for name, dataset, questions, modes in RUNS:
            if args.run and name not in args.run:
                continue
            row = run(embedder, name, dataset, questions, modes, args.limit, {})
            print(json.dumps(row, ensure_ascii=False), flush=True)
            rows.append(row)
    print(f"\n{cpu_name()}\n")
    print("| embedder | run | mode | nDCG@10 | R@5 | R@10 | R@100 | mean ms |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        for mode, r in row["results"].items():
            print(f"| {row['embedder']} | {row['run']} ({row['queries']} q) | {mode} | {r['ndcg@10']:.4f} | "
                  f"{r['recall@5']:.4f} | {r['recall@10']:.4f} | {r['recall@100']:.4f} | {r['latency_ms_mean']:.1f} |")


if __name__ == "__main__":
    main()
