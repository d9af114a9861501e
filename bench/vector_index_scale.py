"""The vector index at a million chunks: exact flat vs IVF-PQ (vs HNSW, optional: its build is long).

Usage:  .venv/bin/python bench/vector_index_scale.py [--n 1000000] [--kinds flat,ivfpq] [--queries 200] [--json]

Vectors: real MiniLM vectors of SciFact chunks (from an index built by `foldrag eval`, e.g.
.bench/eval-torch-scifact, or --store PATH to any chunks.sqlite) repeated with Gaussian noise up to
--n, so they keep the clusters of real text; without them, a synthetic mixture of 5,000 clusters.
Queries are other noisy copies. For each kind it reports the build time, bytes per vector of the
FAISS index (its serialized size, which is what it holds in RAM), query p50/p95 for 10 hits, and
recall@10 against exact search. IVF-PQ is measured as foldrag runs it: `pq_candidates` candidates
re-scored exactly from the vectors in a chunk store (SQLite, on disk).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def base_vectors(store: Path | None, dim: int, rng) -> np.ndarray:
    from foldrag.indexes.chunk_store import ChunkStore

    candidates = [store] if store else sorted(REPO.glob(".bench/eval-*-scifact/gen-*/chunks.sqlite"))
    for path in candidates:
        if path and path.exists():
            s = ChunkStore.open_readonly(path)
            try:
                return s.vectors(dim)[1].copy()
            finally:
                s.close()
    centers = rng.standard_normal((5000, dim)).astype(np.float32)
    return centers / np.linalg.norm(centers, axis=1, keepdims=True)


def noisy(base: np.ndarray, n: int, sigma: float, rng) -> np.ndarray:
    out = base[rng.integers(0, len(base), n)] + sigma * rng.standard_normal((n, base.shape[1])).astype(np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--kinds", default="flat,ivfpq")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--nprobe", default="", help="IVF cells visited, comma-separated to sweep (default: index.ivf_nprobe)")
    parser.add_argument("--candidates", default="", help="IVF-PQ candidates re-scored exactly, comma-separated to sweep (default: index.pq_candidates)")
    parser.add_argument("--store", type=Path, default=None)
    parser.add_argument("--sigma", type=float, default=0.02, help="noise per dimension of the copies")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import faiss

    from foldrag.indexes.chunk_store import ChunkStore, FileRecord
    from foldrag.indexes.vector_store import build_faiss, rescore_exact, search_faiss
    from foldrag.core.settings import IndexSettings
    from foldrag.core.types import Chunk

    rng = np.random.default_rng(0)
    dim = 384
    base = base_vectors(args.store, dim, rng)
    source = f"{len(base)} SciFact chunk vectors" if len(base) != 5000 else "5,000 synthetic clusters"
    vectors = noisy(base, args.n, args.sigma, rng)
    queries = noisy(base, args.queries, args.sigma, rng)
    ids = np.arange(1, args.n + 1, dtype=np.int64)  # rowids, as the chunk store numbers chunks
    work = Path(tempfile.mkdtemp(prefix="foldrag-scale-"))
    settings = IndexSettings(path=work)
    nprobes = [int(x) for x in args.nprobe.split(",") if x] or [settings.ivf_nprobe]
    counts = [int(x) for x in args.candidates.split(",") if x] or [settings.pq_candidates]

    exact = faiss.IndexFlatIP(dim)
    exact.add(vectors)
    _, truth = exact.search(queries, 10)
    truth += 1
    del exact

    store = None
    rows = []
    for kind in args.kinds.split(","):
        t0 = time.perf_counter()
        index = build_faiss(vectors, ids, dim, settings, kind)
        build_s = time.perf_counter() - t0
        path = work / f"{kind}.faiss"
        faiss.write_index(index, str(path))
        per_vector = path.stat().st_size / args.n
        rescore = kind == "ivfpq"
        if rescore and store is None:
            t1 = time.perf_counter()
            store = ChunkStore.create(work / "chunks.sqlite")
            for start in range(0, args.n, 10_000):
                part = range(start, min(start + 10_000, args.n))
                store.replace_file(FileRecord(f"f{start}", "", 0, 0),
                                   [Chunk(id=f"c{i}", source=f"f{start}", text="") for i in part], vectors[part.start:part.stop])
            store.commit()
            store_s = time.perf_counter() - t1
        sweep = [(n, c) for n in nprobes for c in (counts if rescore else [10])] if kind in ("ivf", "ivfpq") else [(0, 10)]
        for nprobe, fetched in sweep:
            if nprobe:
                index.nprobe = min(nprobe, index.nlist)
            latencies, found = [], []
            for q in queries:
                t1 = time.perf_counter()
                scores, got = search_faiss(index, q[None, :], fetched)
                if rescore:
                    scores, got = rescore_exact(store, q[None, :], got, 10)
                latencies.append((time.perf_counter() - t1) * 1000)
                found.append(got[0][:10])
            recall = float(np.mean([len(set(f.tolist()) & set(t.tolist())) / 10 for f, t in zip(found, truth)]))
            row = {"kind": kind, "build_s": round(build_s, 1), "index_bytes_per_vector": round(per_vector, 1),
                   "index_mb": round(path.stat().st_size / 1e6), "p50_ms": round(float(np.percentile(latencies, 50)), 2),
                   "p95_ms": round(float(np.percentile(latencies, 95)), 2), "recall_at_10": round(recall, 4)}
            if kind in ("ivf", "ivfpq"):
                row.update(nlist=index.nlist, nprobe=index.nprobe)
            if rescore:
                row.update(rescored_candidates=fetched, store_build_s=round(store_s, 1),
                           store_mb=round((work / "chunks.sqlite").stat().st_size / 1e6))
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
        del index
        path.unlink()
    result = {"n": args.n, "dimension": dim, "vectors": f"{source}, copies with noise sigma {args.sigma}",
              "queries": args.queries, "cpu": os.cpu_count(), "kinds": rows}
    print(json.dumps(result, indent=2) if args.json else "\n".join(json.dumps(r) for r in rows))


if __name__ == "__main__":
    main()
