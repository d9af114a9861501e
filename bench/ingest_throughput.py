"""Ingest throughput against a raw fp32 SentenceTransformer.encode of the same chunk texts.

Usage:  .venv/bin/python bench/ingest_throughput.py [--files 300] [--corpus uniform|varied]
            [--model bundled:all-MiniLM-L6-v2] [--side both|raw|ingest] [--json]

Writes a generated corpus to a temporary folder — ``uniform``: 300 files, about 2,400 chunks of
~400 characters; ``varied``: one-chunk documents of 5 to 60 words (the issue's "2,000 one-chunk
documents": lengths differ, so how texts are batched decides the padding) — then measures, with
the embedder ``--model`` (default: the default embedder, ``embedding.model = "auto"``):
  1. raw encode: SentenceTransformer.encode(texts, batch_size=32) in fp32, one call, of exactly
     the texts ingest embedded (with the model's passage prompt, as ingest sends them);
  2. a full `foldrag ingest` (parse, chunk, embed, write, commit) into a fresh index;
  3. a re-ingest of the unchanged folder;
and reports chunks/s, the ratio, and peak memory. ``--side`` runs one of 1 and 2 only, so that
the two can be alternated in fresh processes (a process's first model run is slower).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

WORDS = (
    "retrieval index vector embedding model query document chunk token search rank fusion keyword "
    "dense sparse korean english layer memory offload gpu cpu latency throughput cache manifest "
    "atomic commit folder parser heading paragraph citation answer context window prompt stream"
).split()


def make_corpus(folder: Path, files: int, paragraphs: int = 8, seed: int = 0) -> None:
    rng = random.Random(seed)
    for i in range(files):
        parts = [f"# Report {i}"]
        for _ in range(paragraphs):
            sentence_count = 6
            sentences = [" ".join(rng.choice(WORDS) for _ in range(10)).capitalize() + "." for _ in range(sentence_count)]
            parts.append(" ".join(sentences)[:400])
        (folder / f"doc{i:04d}.md").write_text("\n\n".join(parts), encoding="utf-8")


def make_varied_corpus(folder: Path, files: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    for i in range(files):
        words = [rng.choice(WORDS) for _ in range(rng.randint(5, 60))]
        (folder / f"note{i:04d}.txt").write_text(" ".join(words).capitalize() + ".", encoding="utf-8")


def cpu_name() -> str:
    """The CPU's model name, its thread count and the vector extensions that decide speed here
    (e.g. "AMD EPYC, 2 threads, AVX-512 + avx512_bf16 + avx512_vnni"): machines of one name differ."""
    from foldrag.core.hardware import cpu_flags

    name = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    flags = cpu_flags()
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    extra = [f for f in ("avx512_bf16", "avx512_vnni", "avx_vnni", "amx_bf16") if f in flags]
    return f"{name}, {os.cpu_count()} threads, " + " + ".join([isa, *extra])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=None, help="default: 300 uniform, 2,000 varied")
    parser.add_argument("--corpus", choices=["uniform", "varied"], default="uniform")
    parser.add_argument("--model", default="auto")
    parser.add_argument("--side", choices=["both", "raw", "ingest"], default="both")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import torch

    from foldrag.indexes.folder import IndexWriter, open_snapshot
    from foldrag.ingest.chunking import embedding_text
    from foldrag.ingest.pipeline import ingest_folder
    from foldrag.build import build_embedder
    from foldrag.core.hardware import cpu_has_fast_bf16
    from foldrag.core.settings import Settings
    from foldrag.embedding.choice import embedding_model

    work = Path(tempfile.mkdtemp(prefix="foldrag-bench-"))
    docs = work / "docs"
    docs.mkdir()
    files = args.files or (300 if args.corpus == "uniform" else 2000)
    (make_corpus if args.corpus == "uniform" else make_varied_corpus)(docs, files)
    # ~400-character chunks, as in the baseline measurement
    model = embedding_model(args.model, work / "index")  # "auto": the default for a new index
    settings = Settings.load(index={"path": work / "index"}, ingest={"chunk_tokens": 100, "chunk_overlap": 16},
                             embedding={"model": model})
    embedder = build_embedder(settings)
    embedder.embed(["warm up"] * 8)

    # 2. full ingest (also when only the raw side is timed: it decides the texts)
    t0 = time.perf_counter()
    with IndexWriter.open(settings.index.path, embedder.name, embedder.dimension, settings.index) as writer:
        first = ingest_folder(docs, writer, embedder, settings.ingest, embed_headers=settings.embedding.embed_headers)
    ingest_s = time.perf_counter() - t0

    snapshot = open_snapshot(settings.index.path)
    chunks = list(snapshot.store.by_rowids(range(1, first.chunks + 1)).values())
    texts = [embedder.prompts.passage + embedding_text(c, settings.embedding.embed_headers) for c in chunks]
    snapshot.close()
    result = {
        "machine": f"{cpu_name()}, torch {torch.__version__}, threads {torch.get_num_threads()}",
        "fast_bf16_cpu": cpu_has_fast_bf16(), "model": embedder.name, "embed_runtime": embedder.backend,
        "corpus": args.corpus, "files": files, "chunks": first.chunks,
        "mean_chunk_chars": round(sum(len(c.text) for c in chunks) / len(chunks)),
    }

    if args.side in ("both", "raw"):
        # 1. raw fp32 encode of exactly the texts ingest embedded
        from sentence_transformers import SentenceTransformer

        from foldrag.embedders import resolve_model_path

        raw = SentenceTransformer(str(resolve_model_path(model)), device="cpu")
        raw.encode(["warm up"] * 8)
        t0 = time.perf_counter()
        raw.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
        raw_s = time.perf_counter() - t0
        result["raw_fp32_encode_chunks_per_s"] = round(len(texts) / raw_s, 1)
    if args.side in ("both", "ingest"):
        result["ingest_chunks_per_s"] = round(first.chunks / ingest_s, 1)
        result["ingest_seconds"] = round(ingest_s, 2)
    if args.side == "both":
        result["ingest_vs_raw"] = round((first.chunks / ingest_s) / (len(texts) / raw_s), 3)
        # 3. re-ingest, unchanged
        t0 = time.perf_counter()
        with IndexWriter.open(settings.index.path, embedder.name, embedder.dimension, settings.index) as writer:
            again = ingest_folder(docs, writer, embedder, settings.ingest)
        reingest_s = time.perf_counter() - t0
        result.update(reingest_seconds=round(reingest_s, 3), reingest_fraction=round(reingest_s / ingest_s, 4),
                      reingest_embedded=again.embedded)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(result, indent=2) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
