"""Ray ingest vs local ingest on the same folder (SciFact documents as files).

Usage:  .venv/bin/python bench/ray_ingest.py [--docs 2000] [--json]

Writes the first ``--docs`` SciFact documents as Markdown files, then ingests them into fresh
indexes with the bundled all-MiniLM-L6-v2 (torch, fp32):
  1. the local engine (a parsing thread beside embedding on all cores);
  2. Ray, one embedding actor holding every core (the "1 worker" case: Ray's overhead);
  3. Ray, one embedding actor per core (the "N workers" case).
The Ray cluster is started once before the runs (as a cluster a team runs would be); its start-up
is reported apart. Each Ray run includes its actors' model loads. The driver's serial part — writing
the chunk store and the commit (FAISS, BM25) — is timed on its own: it bounds what more nodes can
give (see the projection printed at the end).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from ingest_throughput import cpu_name  # noqa: E402  (a sibling script)

SCIFACT = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "beir-scifact"


def write_docs(folder: Path, count: int) -> int:
    folder.mkdir(parents=True)
    with open(SCIFACT / "corpus.jsonl", encoding="utf-8") as handle:
        for written, line in zip(range(count), handle):
            row = json.loads(line)
            (folder / f"{row['_id']}.md").write_text(f"# {row.get('title', '')}\n\n{row.get('text', '')}\n", encoding="utf-8")
    return written + 1


class DriverClock:
    """Times the driver's serial work: writing outcomes into the store, and the commit."""

    def __init__(self) -> None:
        self.store_s = self.commit_s = 0.0

    def wrap(self, writer) -> None:
        store, commit = writer.begin(), writer.commit
        replace = store.replace_file

        def timed_replace(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return replace(*args, **kwargs)
            finally:
                self.store_s += time.perf_counter() - t0

        def timed_commit():
            t0 = time.perf_counter()
            try:
                return commit()
            finally:
                self.commit_s += time.perf_counter() - t0

        store.replace_file = timed_replace
        writer.commit = timed_commit


def run(label: str, docs: Path, work: Path, settings, embedder, **ingest) -> dict:
    from foldrag.indexes.folder import IndexWriter
    from foldrag.ingest.pipeline import ingest_folder

    options = settings.ingest.model_copy(update=ingest)
    clock = DriverClock()
    with IndexWriter.open(work / label, embedder.name, embedder.dimension, settings.index,
                          tokenizer=_tokenizer(), backend=embedder.backend) as writer:
        clock.wrap(writer)
        t0 = time.perf_counter()
        summary = ingest_folder(docs, writer, embedder, options)
        seconds = time.perf_counter() - t0
    result = {"engine": label, "files": summary.added, "chunks": summary.chunks, "seconds": round(seconds, 1),
              "chunks_per_s": round(summary.chunks / seconds, 1), "driver_store_s": round(clock.store_s, 1),
              "driver_commit_s": round(clock.commit_s, 1)}
    print(json.dumps(result), file=sys.stderr, flush=True)
    return result


_TOKENIZER = []


def _tokenizer():
    from foldrag.core.tokenize import KeywordTokenizer

    if not _TOKENIZER:
        _TOKENIZER.append(KeywordTokenizer())
    return _TOKENIZER[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not (SCIFACT / "corpus.jsonl").exists():
        sys.exit(f"SciFact not found at {SCIFACT} (../shared/data beside the repository)")

    import ray
    import torch

    from foldrag.build import build_embedder
    from foldrag.core.settings import Settings

    cores = os.cpu_count() or 1
    work = Path(tempfile.mkdtemp(prefix="foldrag-ray-bench-"))
    docs = work / "docs"
    written = write_docs(docs, args.docs)
    settings = Settings.load(index={"path": work / "unused"}, embedding={"backend": "torch"})
    embedder = build_embedder(settings)
    embedder.embed(["warm up"] * 8)

    local = run("local", docs, work, settings, embedder)
    t0 = time.perf_counter()
    ray.init(num_cpus=cores, include_dashboard=False, log_to_driver=False)
    start_s = time.perf_counter() - t0
    try:
        one = run("ray-1-worker", docs, work, settings, embedder, engine="ray", ray_embedders=1,
                  ray_embedder_cpus=cores)
        many = run(f"ray-{cores}-workers", docs, work, settings, embedder, engine="ray", ray_embedders=cores,
                   ray_embedder_cpus=1)
    finally:
        ray.shutdown()

    serial = local["driver_store_s"] + local["driver_commit_s"]
    report = {
        "machine": f"{cpu_name()}, {cores} cores, torch {torch.__version__}, ray {ray.__version__}",
        "docs": written, "ray_start_s": round(start_s, 1), "runs": [local, one, many],
        "ray_overhead_at_1_worker": round(local["chunks_per_s"] / one["chunks_per_s"] - 1, 3),
        "per_worker_chunks_per_s": round(many["chunks_per_s"] / cores, 1),
        # More nodes shorten the parallel part only; the driver writes and commits every chunk.
        "driver_bound_chunks_per_s": round(local["chunks"] / serial, 1) if serial else None,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"machine: {report['machine']}; {written} SciFact documents; Ray start {start_s:.1f} s")
    for r in report["runs"]:
        print(f"  {r['engine']:>16}: {r['chunks']} chunks in {r['seconds']} s = {r['chunks_per_s']} chunks/s "
              f"(driver: store {r['driver_store_s']} s, commit {r['driver_commit_s']} s)")
    print(f"Ray overhead at 1 worker: {report['ray_overhead_at_1_worker']:+.1%}; "
          f"per worker {report['per_worker_chunks_per_s']} chunks/s; "
          f"the driver alone bounds an ingest at ~{report['driver_bound_chunks_per_s']} chunks/s")


if __name__ == "__main__":
    main()
