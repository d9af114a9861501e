"""The embedder's runtimes side by side: torch fp32 (SentenceTransformer.encode), the ONNX export on
onnxruntime and on OpenVINO, fp32 and int8.

Usage:  .venv/bin/python bench/embedding_runtimes.py [--texts 1000] [--eval] [--json]

Each runtime runs in its own process (so its peak RSS is its own) on the same texts — SciFact
abstracts (../shared/data), title + text, truncated by the model at 256 tokens as an ingest's chunks
are — and reports texts/s (best of 2 after a warm-up), cosine to torch fp32's vectors (mean, min),
milliseconds per question (SciFact's queries embedded one at a time, as a search does: median and
p95, and the cosine of their vectors to torch's) and peak RSS; the one-time ONNX export (fp32 + int8, into a fresh cache folder) is timed apart. With --eval,
`foldrag eval` runs per runtime into its own index folder (.bench/eval-LABEL): SciFact dense and
hybrid nDCG@10, KorQuAD hybrid nDCG@10.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
DATA = REPO.parent / "shared" / "data"
SCIFACT = DATA / "beir-scifact"
KORQUAD = DATA / "korquad-v1-dev" / "KorQuAD_v1.0_dev.json"
RUNTIMES = [("torch", "off"), ("onnx", "off"), ("onnx", "int8"), ("openvino", "off"), ("openvino", "int8")]


def texts(n: int) -> list[str]:
    out = []
    with open(SCIFACT / "corpus.jsonl", encoding="utf-8") as handle:
        for _, line in zip(range(n), handle):
            doc = json.loads(line)
            out.append(f"{doc.get('title', '')}\n\n{doc['text']}")
    return out


def questions(n: int) -> list[str]:
    with open(SCIFACT / "queries.jsonl", encoding="utf-8") as handle:
        return [json.loads(line)["text"] for _, line in zip(range(n), handle)]


def export(cache: Path) -> float:
    """The one-time ONNX export (fp32 + int8) into ``cache``, in a child process; its seconds."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from pathlib import Path; "
            "from foldrag.embedders import resolve_model_path; from foldrag.embedding.onnx_export import export_onnx; "
            "export_onnx(resolve_model_path('bundled:all-MiniLM-L6-v2'), Path(sys.argv[2]))")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, str(REPO), str(cache)], check=True, capture_output=True)
    return time.perf_counter() - t0


def one(backend: str, quantize: str, n: int, out: Path, cache: Path) -> None:
    """In a child process: load (the export is in ``cache``), encode, write vectors and figures."""
    from foldrag.embedding import onnx_export

    onnx_export.default_cache_dir = lambda: cache
    from foldrag.embedders import SentenceTransformerEmbedder

    t0 = time.perf_counter()
    embedder = SentenceTransformerEmbedder.load("bundled:all-MiniLM-L6-v2", device="cpu", backend=backend,
                                                quantize=quantize)
    load_s = time.perf_counter() - t0
    sample = texts(n)
    embedder.embed(sample[:64])
    best = float("inf")
    for _ in range(2):
        t0 = time.perf_counter()
        vectors = embedder.embed(sample, query=True)  # one call, full batches: the raw encode rate
        best = min(best, time.perf_counter() - t0)
    np.save(out.with_suffix(".npy"), vectors)
    asked = questions(200)
    for question in asked[:10]:
        embedder.embed([question], query=True)
    latencies, question_vectors = [], []
    for question in asked:
        t0 = time.perf_counter()
        question_vectors.append(embedder.embed([question], query=True)[0])
        latencies.append((time.perf_counter() - t0) * 1000)
    np.save(out.with_suffix(".questions.npy"), np.stack(question_vectors))
    out.write_text(json.dumps({
        "label": embedder.backend, "texts_per_s": round(n / best, 1), "load_s": round(load_s, 1),
        "question_ms_p50": round(float(np.percentile(latencies, 50)), 2),
        "question_ms_p95": round(float(np.percentile(latencies, 95)), 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }))


def evaluate(backend: str, quantize: str, label: str) -> dict:
    env = dict(os.environ, FOLDRAG_EMBEDDING__BACKEND=backend, FOLDRAG_EMBEDDING__QUANTIZE=quantize)
    figures = {}
    for name, data, modes in (("scifact", SCIFACT, ["dense", "hybrid"]), ("korquad", KORQUAD, ["hybrid"])):
        args = [sys.executable, "-m", "foldrag.cli", "eval", str(data), "--index", str(REPO / ".bench" / f"eval-{label}-{name}"),
                "--json", *[a for m in modes for a in ("--mode", m)]]
        t0 = time.perf_counter()
        done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=REPO)
        if done.returncode != 0:
            raise SystemExit(f"eval {name} with {label} failed:\n{done.stderr[-2000:]}")
        for mode, row in json.loads(done.stdout)["results"].items():
            figures[f"{name}_{mode}_ndcg10"] = row["ndcg@10"]
        figures[f"{name}_seconds"] = round(time.perf_counter() - t0)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--texts", type=int, default=1000)
    parser.add_argument("--eval", action="store_true", help="also nDCG@10 on SciFact and KorQuAD (minutes per runtime)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--one", nargs=4, metavar=("BACKEND", "QUANTIZE", "OUT", "CACHE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args.one[0], args.one[1], args.texts, Path(args.one[2]), Path(args.one[3]))
        return
    if not SCIFACT.exists():
        raise SystemExit(f"{SCIFACT} missing: the benchmark needs ../shared/data")
    import torch

    sys.path.insert(0, str(REPO / "bench"))
    from ingest_throughput import cpu_name

    work = Path(tempfile.mkdtemp(prefix="foldrag-runtimes-"))
    export_s = export(work / "cache")
    rows, reference, question_reference = [], None, None
    for backend, quantize in RUNTIMES:
        out = work / f"{backend}-{quantize}.json"
        done = subprocess.run([sys.executable, __file__, "--texts", str(args.texts), "--one", backend, quantize, str(out),
                               str(work / "cache")],
                              capture_output=True, text=True)
        if done.returncode != 0 or not out.exists():
            rows.append({"label": f"{backend}/{quantize}", "error": done.stderr.strip().splitlines()[-1:]})
            continue
        row = json.loads(out.read_text())
        vectors = np.load(out.with_suffix(".npy"))
        reference = vectors if reference is None else reference
        cosines = np.sum(vectors * reference, axis=1)
        row.update(cosine_mean=round(float(cosines.mean()), 5), cosine_min=round(float(cosines.min()), 5))
        asked = np.load(out.with_suffix(".questions.npy"))
        question_reference = asked if question_reference is None else question_reference
        cosines = np.sum(asked * question_reference, axis=1)
        row.update(question_cosine_mean=round(float(cosines.mean()), 5), question_cosine_min=round(float(cosines.min()), 5))
        if args.eval:
            row.update(evaluate(backend, quantize, row["label"]))
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    torch_rate = rows[0].get("texts_per_s")
    for row in rows:
        if torch_rate and "texts_per_s" in row:
            row["vs_torch"] = round(row["texts_per_s"] / torch_rate, 2)
    result = {"machine": f"{cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__}, "
                         f"threads {torch.get_num_threads()}", "texts": args.texts,
              "onnx_export_seconds": round(export_s, 1), "runtimes": rows}
    print(json.dumps(result, indent=2) if args.json else "\n".join(json.dumps(r) for r in rows))


if __name__ == "__main__":
    main()
