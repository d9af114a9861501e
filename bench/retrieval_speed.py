"""Hybrid retrieval latency against 100,000 chunks, fusion cost, and index build time and memory.

Usage:  .venv/bin/python bench/retrieval_speed.py [--chunks 100000] [--queries 200] [--kind auto|flat|hnsw|ivf] [--json]
        .venv/bin/python bench/retrieval_speed.py --scifact [--json]

--scifact times the default retrieval (the configured mode, e.g. auto) of SciFact's 300 test claims
on the index `foldrag eval` built of its 5,183 abstracts (12.7k chunks, the bundled e5): p50 and
p95 of the whole retrieval and of its fusion stage, after 20 warm-up questions.

The chunks are synthetic (Zipf-distributed words from a 50,000-word vocabulary, 60 words each)
with random unit vectors standing in for embeddings, so that the build does not spend half an
hour embedding; everything after that is foldrag's real code: the SQLite chunk store, the FAISS
flat index, the BM25 index, and a hybrid query (the bundled MiniLM embeds the query, FAISS, BM25,
RRF, chunk lookup). Embedding 100k chunks with the bundled model is reported separately in
docs/BENCHMARKS.md from bench/ingest_throughput.py's rate.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
import timeit
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--kind", choices=["auto", "flat", "hnsw", "ivf", "ivfpq"], default="auto",
                        help="FAISS index kind (auto: HNSW at 100k, IVF-PQ from 1M).")
    parser.add_argument("--scifact", action="store_true", help="Time SciFact's test claims on its eval index.")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.scifact:
        result = scifact_latency()
        print(json.dumps(result, indent=2) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))
        return

    from foldrag.indexes.chunk_store import FileRecord
    from foldrag.indexes.folder import IndexWriter
    from foldrag.build import build_rag
    from foldrag.retrieval.fusion import Fusion, Ranked
    from foldrag.core.settings import Settings
    from foldrag.core.types import Chunk

    rng = np.random.default_rng(0)
    vocab = np.array([f"w{i}" for i in range(50_000)])
    ranks = np.minimum(rng.zipf(1.2, size=(args.chunks, 60)) - 1, len(vocab) - 1)
    work = Path(tempfile.mkdtemp(prefix="foldrag-speed-"))
    settings = Settings.load(index={"path": work / "index", "kind": args.kind})
    rag = build_rag(settings)
    embedder = rag.load_embedder()
    base_rss = rss_mb()

    t0 = time.perf_counter()
    per_file = 100
    with IndexWriter.open(settings.index.path, embedder.name, embedder.dimension, settings.index,
                          tokenizer=rag.tokenizer) as writer:
        for f in range(0, args.chunks, per_file):
            rows = range(f, min(f + per_file, args.chunks))
            words = [vocab[ranks[i]].tolist() for i in rows]
            chunks = [Chunk(id=f"c{i}", source=f"f{f}.txt", text=" ".join(w)) for i, w in zip(rows, words)]
            vectors = rng.standard_normal((len(chunks), embedder.dimension)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            writer.begin().replace_file(FileRecord(f"f{f}.txt", str(f), 1, 1), chunks, vectors, words)
        writer.commit()
    build_s = time.perf_counter() - t0
    index_mb = sum(p.stat().st_size for p in settings.index.path.rglob("*") if p.is_file()) / 1e6
    parts_mb = {}
    for part in sorted(p for p in settings.index.path.glob("gen-*/*") if not p.name.endswith(".tmp")):
        files = [part] if part.is_file() else [f for f in part.rglob("*") if f.is_file()]
        parts_mb[part.name] = round(sum(f.stat().st_size for f in files) / 1e6, 1)

    from foldrag.indexes.folder import current_generation, open_snapshot
    from foldrag.indexes.integrity import damage
    from foldrag.indexes.manifest import Manifest

    generation = current_generation(settings.index.path)
    t0 = time.perf_counter()
    damage(generation, Manifest.read(generation / "manifest.json").checksums)
    checksum_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    open_snapshot(settings.index.path).close()
    snapshot_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    retriever = rag.prepare("warm up").retriever
    open_s = time.perf_counter() - t0
    loaded_rss = rss_mb()
    queries = [" ".join(vocab[rng.integers(0, 2000, size=4)]) for _ in range(args.queries)]
    for q in queries[:10]:
        retriever.retrieve(q, k=10, mode="hybrid")
    latencies = []
    for q in queries:
        t0 = time.perf_counter()
        retriever.retrieve(q, k=10, mode="hybrid")
        latencies.append((time.perf_counter() - t0) * 1000)
    stages = retriever.retrieve(queries[0], k=10, mode="hybrid").trace.timings_ms

    lists = [Ranked(tuple(f"id{rng.integers(0, 400)}" for _ in range(50)), tuple(sorted(rng.random(50), reverse=True)))
             for _ in range(8)]
    convex, rrf = Fusion("convex"), Fusion("rrf")
    fusion_ms = min(timeit.repeat(lambda: convex(lists, [0.5] * 8), number=100, repeat=5)) / 100 * 1000
    rrf_ms = min(timeit.repeat(lambda: rrf(lists, [0.5] * 8), number=100, repeat=5)) / 100 * 1000

    result = {
        "chunks": args.chunks,
        "index_kind": args.kind,
        "build_seconds_excluding_embedding": round(build_s, 1),
        "index_folder_mb": round(index_mb, 1),
        "index_parts_mb": parts_mb,
        "bytes_per_chunk_by_part": {k: round(v * 1e6 / args.chunks) for k, v in parts_mb.items()},
        "open_seconds": round(open_s, 2),
        "snapshot_open_seconds_with_checksums": round(snapshot_s, 2),
        "checksum_verify_seconds": round(checksum_s, 2),
        "rss_mb_after_open": round(loaded_rss),
        "rss_mb_added_by_index": round(loaded_rss - base_rss),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "hybrid_p50_ms": round(float(np.percentile(latencies, 50)), 2),
        "hybrid_p95_ms": round(float(np.percentile(latencies, 95)), 2),
        "one_query_stages_ms": {k: round(v, 2) for k, v in stages.items()},
        "fusion_convex_8x50_ms": round(fusion_ms, 4),
        "fusion_rrf_8x50_ms": round(rrf_ms, 4),
    }
    print(json.dumps(result, indent=2) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))


def scifact_latency() -> dict:
    from foldrag.build import build_rag
    from foldrag.core.settings import Settings
    from foldrag.evaluation.datasets import load_dataset
    from foldrag.evaluation.runner import default_eval_dir

    data_path = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "beir-scifact"
    data = load_dataset(data_path, "test")
    work = default_eval_dir(data, data_path, Settings.load().embedding.model)
    if not (work / "index").exists():
        raise SystemExit(f"no eval index at {work}: run `foldrag eval {data_path}` first")
    rag = build_rag(Settings.load(index={"path": work / "index"}))
    questions = list(data.queries.values())
    for q in questions[:20]:
        rag.retrieve(q, k=10)
    total, fusion = [], []
    for q in questions:
        t0 = time.perf_counter()
        result = rag.retrieve(q, k=10)
        total.append((time.perf_counter() - t0) * 1000)
        fusion.append(result.trace.timings_ms.get("fusion", 0.0))
    return {"index": str(work / "index"), "questions": len(questions), "mode": result.trace.mode,
            "retrieval_p50_ms": round(float(np.percentile(total, 50)), 2),
            "retrieval_p95_ms": round(float(np.percentile(total, 95)), 2),
            "fusion_p50_ms": round(float(np.percentile(fusion, 50)), 3),
            "fusion_p95_ms": round(float(np.percentile(fusion, 95)), 3)}


if __name__ == "__main__":
    main()
