"""FAISS shards (index.shard_chunks) vs one index, through foldrag's own commit.

Usage:  .venv/bin/python bench/vector_shards.py [--n 300000] [--shard 100000] [--kind ivfpq] [--json]

Writes ``--n`` chunks (real MiniLM vectors of SciFact chunks with noise, as
bench/vector_index_scale.py; synthetic clusters without them) into two fresh indexes, one with
one FAISS index and one with shards of ``--shard`` chunks, and reports for each:
  - the first commit (store + every FAISS build) and a second commit after adding 1,000 chunks
    in a new file (what an incremental ingest at that size pays: one index rebuilds everything,
    shards rebuild the last one and link the rest);
  - query p50/p95 for 10 hits (foldrag's dense search: IVF-PQ candidates re-scored exactly) and
    recall@10 against exact search;
  - the FAISS bytes on disk (what is held in RAM).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from ingest_throughput import cpu_name  # noqa: E402  (sibling scripts)
from vector_index_scale import base_vectors, noisy  # noqa: E402

DIM = 384
FILE_CHUNKS = 1000  # chunks per synthetic file


def fill(root: Path, settings, vectors: np.ndarray, start: int = 0) -> float:
    """Write ``vectors`` as files of FILE_CHUNKS chunks and commit; the commit's seconds."""
    from foldrag.indexes.chunk_store import FileRecord
    from foldrag.indexes.folder import IndexWriter
    from foldrag.indexes.vector_part import VectorPart
    from foldrag.core.types import Chunk

    with IndexWriter.open(root, "bench", DIM, settings, [VectorPart(settings, DIM)]) as writer:
        for begin in range(0, len(vectors), FILE_CHUNKS):
            name = f"f{start + begin // FILE_CHUNKS:06d}.txt"
            part = vectors[begin:begin + FILE_CHUNKS]
            chunks = [Chunk(id=f"{name}-{i}", source=name, text=f"chunk {i} of {name}") for i in range(len(part))]
            writer.begin().replace_file(FileRecord(name, name, 1, 1), chunks, part)
        t0 = time.perf_counter()
        writer.commit()
        return time.perf_counter() - t0


def measure(root: Path, queries: np.ndarray, exact: np.ndarray, candidates: int) -> dict:
    from foldrag.indexes.folder import current_generation, open_snapshot
    from foldrag.indexes.vector_store import COMPRESSED_KINDS, rescore_exact, search_faiss

    snap = open_snapshot(root, "bench", DIM)
    try:
        rescore = snap.manifest.index_kind in COMPRESSED_KINDS
        times, found = [], []
        for query in queries:
            q = query[None, :]
            t0 = time.perf_counter()
            scores, ids = search_faiss(snap.faiss_index, q, max(10, candidates if rescore else 0))
            if rescore:
                scores, ids = rescore_exact(snap.store, q, ids, 10)
            times.append(time.perf_counter() - t0)
            found.append(ids[0][:10])
        recall = float(np.mean([len(set(f.tolist()) & set(e.tolist())) / 10 for f, e in zip(found, exact)]))
        generation = current_generation(root)
        faiss_bytes = sum(p.stat().st_size for p in generation.glob("vectors*.faiss"))
        return {"p50_ms": round(1000 * float(np.percentile(times, 50)), 2),
                "p95_ms": round(1000 * float(np.percentile(times, 95)), 2),
                "recall_at_10": round(recall, 4), "faiss_bytes_per_chunk": round(faiss_bytes / snap.manifest.chunks, 1)}
    finally:
        snap.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300_000)
    parser.add_argument("--shard", type=int, default=100_000)
    parser.add_argument("--kind", default="ivfpq")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--store", type=Path, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import faiss

    from foldrag.core.settings import IndexSettings

    rng = np.random.default_rng(0)
    base = base_vectors(args.store, DIM, rng)
    vectors = noisy(base, args.n, 0.02, rng)
    extra = noisy(base, FILE_CHUNKS, 0.02, rng)
    queries = noisy(base, args.queries, 0.02, rng)
    everything = np.concatenate([vectors, extra])
    flat = faiss.IndexFlatIP(DIM)
    flat.add(everything)
    _, exact = flat.search(queries, 10)
    exact = exact + 1  # rowids start at 1, in insertion order
    work = Path(tempfile.mkdtemp(prefix="foldrag-shards-"))
    report = {"machine": f"{cpu_name()}, faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads",
              "n": args.n, "kind": args.kind, "runs": []}
    for label, shard in (("one index", 0), (f"shards of {args.shard}", args.shard)):
        root = work / f"s{shard}"
        settings = IndexSettings(path=root, kind=args.kind, keyword=False, shard_chunks=shard)
        first = fill(root, settings, vectors)
        second = fill(root, settings, extra, start=args.n // FILE_CHUNKS + 1)
        run = {"layout": label, "first_commit_s": round(first, 1), "commit_after_1000_more_s": round(second, 1),
               **measure(root, queries, exact, settings.pq_candidates)}
        print(json.dumps(run), file=sys.stderr, flush=True)
        report["runs"].append(run)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{report['machine']}; {args.n} + {FILE_CHUNKS} chunks, kind {args.kind}")
    for r in report["runs"]:
        print(f"  {r['layout']:>18}: first commit {r['first_commit_s']} s, +1000 chunks {r['commit_after_1000_more_s']} s, "
              f"p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms, recall@10 {r['recall_at_10']}, "
              f"FAISS {r['faiss_bytes_per_chunk']} B/chunk")


if __name__ == "__main__":
    main()
