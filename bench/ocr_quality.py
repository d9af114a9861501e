"""OCR quality on Korean: KorQuAD paragraphs typeset as scanned images, read back by foldrag's OCR
path (Tesseract kor+eng), scored by character error rate and by what it costs retrieval.

Usage:  .venv/bin/python bench/ocr_quality.py [--paragraphs 120] [--data ../shared/data/korquad-v1-dev/KorQuAD_v1.0_dev.json] [--json]

The first N paragraphs of KorQuAD 1.0 dev are drawn (Debian's NanumGothic) at three sizes (24, 32
and 40 px in a 1600-px-wide image, i.e. about 8, 11 and 14 pt on an A4 page at 200 dpi), every other
one with Gaussian pixel noise (sigma 12 of 255), and OCR'd one by one through ``parse_file`` — the
code an ingest runs for an image file. Then the whole corpus (all 964 paragraphs) is ingested twice
with foldrag, once as clean text and once with the N paragraphs replaced by their OCR text, and the
questions about those N paragraphs are asked of both in BM25 and hybrid mode: nDCG@10 clean vs OCR.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from ingest_throughput import cpu_name  # noqa: E402  (a sibling script: run from bench/'s parent)

SIZES = (24, 32, 40)
NOISE = 12.0


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance, one NumPy row at a time (insertions folded in with a running minimum)."""
    if not a or not b:
        return max(len(a), len(b))
    codes_b = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    index = np.arange(len(b) + 1)
    previous = index.copy()
    for i, ch in enumerate(a, start=1):
        substitute = previous[:-1] + (codes_b != ord(ch))
        current = np.empty_like(previous)
        current[0] = i
        current[1:] = np.minimum(previous[1:] + 1, substitute)
        current = np.minimum.accumulate(current - index) + index  # insertions
        previous = current
    return int(previous[-1])


def cer(truth: str, seen: str, spaces: bool) -> float:
    if not spaces:
        truth, seen = "".join(truth.split()), "".join(seen.split())
    else:
        truth, seen = " ".join(truth.split()), " ".join(seen.split())
    return edit_distance(truth, seen) / max(len(truth), 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--paragraphs", type=int, default=120)
    parser.add_argument("--data", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared/data/korquad-v1-dev/KorQuAD_v1.0_dev.json")
    parser.add_argument("--work", type=Path, default=None, help="Folder for the corpora and indexes (a temp dir).")
    parser.add_argument("--ocr-only", action="store_true", help="Error rate and speed only (no retrieval runs).")
    parser.add_argument("--pdf-pages", type=int, default=8,
                        help="Also time a scanned A4 PDF of this many pages (three paragraphs each, 28 px type "
                        "rendered at 300 dpi) with 1 OCR worker and with one per core; 0 skips it.")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from foldrag.ingest.formats.ocr import tesseract_missing
    from foldrag.ingest.parsers import parse_file
    from foldrag.build import build_rag
    from foldrag.core.settings import Settings
    from foldrag.evaluation.datasets import EvalSet, load_korquad
    from foldrag.evaluation.runner import doc_filename, documents_from_hits, evaluate
    from tests.docs_factory import NANUM, render_text_image

    if not args.data.exists():
        sys.exit(f"KorQuAD not found at {args.data}")
    missing = tesseract_missing("kor+eng")
    if missing or not NANUM.exists():
        sys.exit(f"OCR is not set up: {missing or 'fonts-nanum is missing'}")
    data = load_korquad(args.data)
    picked = data.corpus[: args.paragraphs]
    work = args.work or Path(tempfile.mkdtemp(prefix="foldrag-ocr-"))
    work.mkdir(parents=True, exist_ok=True)

    rows = []
    ocr_text: dict[str, str] = {}
    for n, doc in enumerate(picked):
        truth = f"{doc.title}\n{doc.text}"
        size, noise = SIZES[n % len(SIZES)], NOISE if (n // len(SIZES)) % 2 else 0.0
        image = render_text_image(truth, size=size, noise=noise, seed=n)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        t0 = time.perf_counter()
        parsed = parse_file(f"{doc.id}.png", buffer.getvalue())
        seconds = time.perf_counter() - t0
        seen = "\n\n".join(s.text for s in parsed.sections)
        ocr_text[doc.id] = seen
        rows.append({"doc": doc.id, "size": size, "noise": noise, "seconds": seconds, "chars": len(truth),
                     "cer": cer(truth, seen, spaces=True), "cer_nospace": cer(truth, seen, spaces=False)})
        if not args.json:
            print(f"  {n + 1}/{len(picked)} {size}px noise {noise:.0f}: CER {rows[-1]['cer']:.3f} "
                  f"in {seconds:.1f} s", file=sys.stderr)

    pdf_speed = scanned_pdf_speed(data, args.pdf_pages, work) if args.pdf_pages else {}
    qids = [q for q, rel in data.qrels.items() if next(iter(rel)) in ocr_text]
    if args.ocr_only:
        variants: tuple[str, ...] = ()
    else:
        variants = ("clean", "ocr")
    subset = EvalSet(data.name, data.split, data.corpus, {q: data.queries[q] for q in qids},
                     {q: data.qrels[q] for q in qids})
    results = {}
    for variant in variants:
        folder = work / variant
        folder.mkdir(parents=True, exist_ok=True)
        source_to_doc = {}
        for doc in data.corpus:
            name = doc_filename(doc.id).removesuffix(".md") + ".txt"
            text = ocr_text[doc.id] if variant == "ocr" and doc.id in ocr_text else f"{doc.title}\n{doc.text}"
            (folder / name).write_text(text + "\n", encoding="utf-8")
            source_to_doc[name] = doc.id
        settings = Settings.load(index={"path": work / f"index-{variant}"}, embedding={"backend": "torch"},
                                 retrieval={"mode": "hybrid"})
        rag = build_rag(settings)
        rag.ingest(folder)

        def retrieve(query: str, mode: str, rag=rag, source_to_doc=source_to_doc) -> list[str]:
            return documents_from_hits(rag.search(query, k=100, mode=mode), source_to_doc)

        results[variant] = evaluate(subset, retrieve, ["bm25", "hybrid"])
        rag.close()

    def mean(key: str, pick=lambda r: True) -> float:
        values = [r[key] for r in rows if pick(r)]
        return round(statistics.fmean(values), 4) if values else float("nan")

    by_kind = {f"{size}px{' noisy' if noise else ''}": {
        "cer": mean("cer", lambda r, s=size, z=noise: r["size"] == s and r["noise"] == z),
        "cer_nospace": mean("cer_nospace", lambda r, s=size, z=noise: r["size"] == s and r["noise"] == z)}
        for size in SIZES for noise in (0.0, NOISE)}
    total_seconds = sum(r["seconds"] for r in rows)
    report = {
        "cpu": cpu_name(), "cores": os.cpu_count(), "paragraphs": len(rows), "questions": len(qids),
        "cer": mean("cer"), "cer_nospace": mean("cer_nospace"), "cer_median": round(statistics.median(r["cer"] for r in rows), 4),
        "by_kind": by_kind,
        "pages_per_s": round(len(rows) / total_seconds, 3), "chars_per_s": round(sum(r["chars"] for r in rows) / total_seconds, 1),
        "scanned_pdf": pdf_speed,
        "retrieval": results,
    }
    if results:
        for mode in ("bm25", "hybrid"):
            report[f"ndcg_drop_{mode}"] = round(results["clean"][mode]["ndcg@10"] - results["ocr"][mode]["ndcg@10"], 4)
    print(json.dumps(report, ensure_ascii=False, indent=None if args.json else 2))


def scanned_pdf_speed(data, pages: int, work: Path) -> dict:
    """Seconds to read a scanned PDF of ``pages`` A4 pages, with one OCR process and one per core."""
    from foldrag.ingest.parsers import ParseOptions, parse_file
    from tests.docs_factory import write_scanned_pdf

    texts = [" ".join(f"{d.title} {d.text}" for d in data.corpus[3 * p : 3 * p + 3]) for p in range(pages)]
    path = write_scanned_pdf(work / "scanned.pdf", texts, size=28)
    result = {"pages": pages}
    for workers in sorted({1, os.cpu_count() or 1}):
        t0 = time.perf_counter()
        parsed = parse_file("scanned.pdf", path.read_bytes(), ParseOptions(ocr_workers=workers))
        seconds = time.perf_counter() - t0
        truth, seen = "\n".join(texts), "\n".join(s.text for s in parsed.sections)
        result[f"workers_{workers}"] = {"seconds": round(seconds, 1), "pages_per_s": round(pages / seconds, 3),
                                        "cer": round(cer(truth, seen, spaces=True), 4)}
    return result


if __name__ == "__main__":
    main()
