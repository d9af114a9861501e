"""What each embedder costs: ingest speed, question embedding time and memory, per language.

For each embedder (MiniLM, multilingual e5-small), in a fresh process each (alternated, ``--rounds``):
the model loaded (timed apart), then `foldrag ingest` of an English folder (the first N SciFact abstracts) and of a Korean one (the first N
KorQuAD paragraphs) into a new index — documents/s, chunks/s, MB of text/s, peak RSS of the process —
then the time to embed one question (median of 50, Korean and English). Chunk counts differ by model:
chunks are measured in the embedder's own tokens, and XLM-RoBERTa's vocabulary holds Korean in ~2.4×
fewer tokens than MiniLM's WordPiece. Needs ../shared/data.

    python bench/multilingual_ingest.py [--docs 600] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data"
sys.path.insert(0, str(HERE))
from ingest_throughput import cpu_name  # noqa: E402

EMBEDDERS = ["bundled:all-MiniLM-L6-v2", "bundled:multilingual-e5-small"]

CHILD = r"""
import json, resource, statistics, sys, time
from pathlib import Path
from foldrag.build import build_rag
from foldrag.core.settings import Settings

folder, index = Path(sys.argv[1]), Path(sys.argv[2])
rag = build_rag(Settings.load(index={"path": index}))
t0 = time.perf_counter()
embedder = rag.load_embedder()
embedder.embed(["warm-up"])  # the chunk runtime built (torch is built at the first chunk otherwise)
load_s = time.perf_counter() - t0
t0 = time.perf_counter()
summary = rag.ingest(folder)
seconds = time.perf_counter() - t0
times = {}
for lang, q in (("ko", "아스피린은 어떤 물질의 생성을 억제하나요?"), ("en", "Which molecule does aspirin inhibit?")):
    embedder.embed([q], query=True)
    runs = []
    for _ in range(50):
        t = time.perf_counter(); embedder.embed([q], query=True); runs.append((time.perf_counter() - t) * 1000)
    times[lang] = round(statistics.median(runs), 2)
print(json.dumps({"documents": summary.added, "chunks": summary.chunks, "seconds": round(seconds, 2),
                  "load_s": round(load_s, 2),
                  "backend": embedder.backend, "query_backend": getattr(embedder, "query_backend", ""),
                  "query_ms": times, "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
"""


def write_corpora(root: Path, n: int) -> dict[str, tuple[Path, int]]:
    en, ko = root / "en", root / "ko"
    en.mkdir()
    ko.mkdir()
    size = {"en": 0, "ko": 0}
    with open(DATA / "beir-scifact" / "corpus.jsonl", encoding="utf-8") as handle:
        for i, line in zip(range(n), handle):
            row = json.loads(line)
            text = f"# {row['title']}\n\n{row['text']}\n"
            (en / f"{i:05d}.md").write_text(text, encoding="utf-8")
            size["en"] += len(text.encode())
    data = json.loads((DATA / "korquad-v1-dev" / "KorQuAD_v1.0_dev.json").read_text(encoding="utf-8"))["data"]
    paragraphs = [(a["title"], p["context"]) for a in data for p in a["paragraphs"]][:n]
    for i, (title, context) in enumerate(paragraphs):
        text = f"# {title}\n\n{context}\n"
        (ko / f"{i:05d}.md").write_text(text, encoding="utf-8")
        size["ko"] += len(text.encode())
    return {"en": (en, size["en"]), "ko": (ko, size["ko"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--embedder", action="append")
    args = parser.parse_args()
    if not DATA.exists():
        raise SystemExit(f"{DATA} not found: this benchmark needs ../shared/data")
    work = Path(tempfile.mkdtemp(prefix="foldrag-mling-"))
    try:
        corpora = write_corpora(work, args.docs)
        rows = []
        for round_ in range(args.rounds):
            for embedder in args.embedder or EMBEDDERS:
                for lang, (folder, nbytes) in corpora.items():
                    index = work / f"index-{round_}-{lang}-{embedder.split(':')[-1]}"
                    env = dict(os.environ, FOLDRAG_EMBEDDING__MODEL=embedder, FOLDRAG_CONFIG=str(work / "none.toml"))
                    done = subprocess.run([sys.executable, "-c", CHILD, str(folder), str(index)], env=env,
                                          capture_output=True, text=True)
                    if done.returncode != 0:
                        raise SystemExit(done.stderr[-3000:])
                    row = json.loads(done.stdout.strip().splitlines()[-1])
                    row.update(embedder=embedder, lang=lang, round=round_, mb=round(nbytes / 1e6, 2),
                               docs_per_s=round(row["documents"] / row["seconds"], 1),
                               chunks_per_s=round(row["chunks"] / row["seconds"], 1),
                               mb_per_s=round(nbytes / 1e6 / row["seconds"], 3))
                    print(json.dumps(row, ensure_ascii=False), flush=True)
                    rows.append(row)
                    shutil.rmtree(index, ignore_errors=True)
        print(f"\n{cpu_name()}\n")
        print("| embedder | text | round | docs | chunks | s | docs/s | chunks/s | question ms (ko / en) | peak RSS MB | runtime (chunks / questions) |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['embedder']} | {r['lang']} | {r['round']} | {r['documents']} | {r['chunks']} | {r['seconds']} | "
                  f"{r['docs_per_s']} | {r['chunks_per_s']} | {r['query_ms']['ko']} / {r['query_ms']['en']} | "
                  f"{r['peak_rss_mb']} | {r['backend']} / {r['query_backend']} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
