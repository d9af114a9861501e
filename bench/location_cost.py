"""What storing locations costs an ingest: the same folder ingested with and without them.

Usage:  .venv/bin/python bench/location_cost.py [--pdfs 40] [--scifact N] [--json]

Two folders, each ingested twice into fresh indexes with the bundled MiniLM embedder, in one
process, alternating (with, without) three times and the fastest of each kept:
- a PDF-heavy folder: ``--pdfs`` generated PDFs of 6 pages each (fpdf2, DejaVu Sans), where every
  page's text is aligned with pdfium's character boxes and every chunk sentence gets its boxes;
- the SciFact corpus (``../shared/data/beir-scifact``, the first ``--scifact`` documents, one text
  file each): text files have no page boxes, so this measures what the change costs a folder of
  text (nothing but the sentence spans of the citations, computed at answer time).
"Without" replaces the page-layout step with one that finds none (the chunks then have no spans).
Also: the chunk store's size with and without.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from highlight_accuracy import ENGLISH, FONTS, prose  # noqa: E402
from ingest_throughput import cpu_name  # noqa: E402

SCIFACT = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "beir-scifact" / "corpus.jsonl"


def write_pdfs(folder: Path, count: int) -> Path:
    from fpdf import FPDF

    folder.mkdir(parents=True)
    for i in range(count):
        pdf = FPDF()
        pdf.add_font("f", fname=str(FONTS["latin"]))
        for page in range(6):
            pdf.add_page()
            pdf.set_font("f", size=10)
            pdf.multi_cell(0, 5, prose(ENGLISH, 28, first=(i * 6 + page) * 28))
        pdf.output(str(folder / f"report-{i:03d}.pdf"))
    return folder


def write_scifact(folder: Path, count: int) -> Path | None:
    if not SCIFACT.exists():
        return None
    folder.mkdir(parents=True)
    with open(SCIFACT, encoding="utf-8") as fh:
        for n, line in enumerate(fh):
            if n >= count:
                break
            doc = json.loads(line)
            (folder / f"{doc['_id']}.txt").write_text(f"{doc.get('title', '')}\n\n{doc['text']}\n", encoding="utf-8")
    return folder


def ingest_once(folder: Path, index: Path, embedder, with_locations: bool) -> tuple[float, int, int]:
    from foldrag.build import build_rag
    from foldrag.core.settings import Settings

    settings = Settings.load(index={"path": index})
    rag = build_rag(settings, embedder=embedder)
    patch = mock.patch("foldrag.ingest.formats.pdf.page_layout", lambda page, number, text: None)
    t0 = time.perf_counter()
    if with_locations:
        summary = rag.ingest(folder)
    else:
        with patch:
            summary = rag.ingest(folder)
    seconds = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in index.rglob("chunks.sqlite"))
    rag.close()
    return seconds, summary.chunks, size


def measure(folder: Path, tmp: Path, embedder, name: str) -> dict:
    runs = {True: [], False: []}
    sizes = {}
    chunks = 0
    for round_ in range(3):
        for with_locations in (True, False):
            seconds, chunks, size = ingest_once(folder, tmp / f"{name}-{with_locations}-{round_}", embedder, with_locations)
            runs[with_locations].append(seconds)
            sizes[with_locations] = size
    with_s, without_s = min(runs[True]), min(runs[False])
    return {"folder": name, "files": sum(1 for _ in folder.iterdir()), "chunks": chunks,
            "with_s": round(with_s, 2), "without_s": round(without_s, 2),
            "cost": round(with_s / without_s - 1, 4),
            "store_with_mb": round(sizes[True] / 1e6, 2), "store_without_mb": round(sizes[False] / 1e6, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pdfs", type=int, default=40)
    parser.add_argument("--scifact", type=int, default=5183, help="documents of the corpus (all: 5183)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from foldrag.build import build_embedder
    from foldrag.core.settings import Settings

    embedder = build_embedder(Settings.load())
    embedder.embed(["warm up"], query=False)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rows.append(measure(write_pdfs(tmp / "pdfs", args.pdfs), tmp, embedder, f"{args.pdfs} PDFs × 6 pages"))
        scifact = write_scifact(tmp / "scifact", args.scifact)
        if scifact is not None:
            rows.append(measure(scifact, tmp, embedder, f"SciFact ({args.scifact} docs)"))
    if args.json:
        print(json.dumps({"cpu": cpu_name(), "rows": rows}, indent=1))
        return
    print(f"CPU: {cpu_name()}")
    for r in rows:
        print(f"{r['folder']:24} {r['files']:5d} files {r['chunks']:6d} chunks: with {r['with_s']:7.2f} s, "
              f"without {r['without_s']:7.2f} s, cost {100 * r['cost']:+.1f} %; "
              f"store {r['store_with_mb']} MB vs {r['store_without_mb']} MB")


if __name__ == "__main__":
    main()
