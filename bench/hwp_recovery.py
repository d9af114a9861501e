"""HWP 5.x and HWPX text recovery: the same Korean documents written as Markdown, saved as .hwp and
.hwpx by an independent writer (hwp-converter-ai, MIT), read back by foldrag's readers.

Usage:  .venv/bin/python bench/hwp_recovery.py [--articles 40] [--data ../shared/data/korquad-v1-dev/KorQuAD_v1.0_dev.json]
                                              [--real FOLDER] [--json]

With ``--real FOLDER`` it also reads every .hwp there — files written by Hancom Office itself — and
compares each with its ``PrvText`` stream, the plain-text preview Hancom stores beside the body
(the first ~1,000 characters, tables flattened with '<' and '>'): the share of the preview's
characters that the reader's text matches in order.

Each document is one KorQuAD article: its title as a heading, its paragraphs, and a table of
(paragraph number, first sentence, length) so that tables are measured too. Reported: the share
of the source's characters recovered in order (1 - edit distance / length, whitespace and Markdown
markup removed from both sides), the share of table cells found inside a Markdown table row, and read speed. (Headings are not scored:
this writer marks them neither by outline style nor by type size in .hwp, so no reader could tell
them from body text; tests/test_formats.py checks both heading rules on records built to the spec.)
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

_MARKUP = re.compile(r"[#|\-\s]")


def plain(text: str) -> str:
    return _MARKUP.sub("", text)


def document(article: dict) -> tuple[str, list[str]]:
    """Markdown for one article, and its table cells."""
    title = article["title"].replace("_", " ")
    paragraphs = [p["context"].replace("\n", " ") for p in article["paragraphs"]]
    cells, rows = [], ["| 문단 | 첫 문장 | 글자 수 |", "| --- | --- | --- |"]
    for n, text in enumerate(paragraphs, start=1):
        first = text.split(". ")[0][:40].replace("|", " ").strip()
        rows.append(f"| {n} | {first} | {len(text)} |")
        cells += [str(n), first, str(len(text))]
    markdown = f"# {title}\n\n" + "\n\n".join(paragraphs) + "\n\n## 문단 요약\n\n" + "\n".join(rows) + "\n"
    return markdown, cells


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=40)
    parser.add_argument("--data", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared/data/korquad-v1-dev/KorQuAD_v1.0_dev.json")
    parser.add_argument("--real", type=Path, default=None, help="A folder of .hwp files written by Hancom Office.")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import contextlib
    import io

    from foldrag.ingest.parsers import parse_file
    from ingest_throughput import cpu_name
    from ocr_quality import edit_distance
    from tests.docs_factory import write_hwp, write_hwpx

    articles = json.loads(args.data.read_text(encoding="utf-8"))["data"][: args.articles]
    work = Path(tempfile.mkdtemp(prefix="foldrag-hwp-"))
    report = {"cpu": cpu_name(), "articles": len(articles)}
    for suffix, write in ((".hwp", write_hwp), (".hwpx", write_hwpx)):
        recovered, cell_hits, cell_total, seconds, size = [], 0, 0, 0.0, 0
        for n, article in enumerate(articles):
            markdown, cells = document(article)
            path = work / f"doc{n}{suffix}"
            with contextlib.redirect_stdout(io.StringIO()):  # the writer prints progress lines
                write(path, markdown)
            data = path.read_bytes()
            size += len(data)
            t0 = time.perf_counter()
            parsed = parse_file(path.name, data)
            seconds += time.perf_counter() - t0
            text = "\n\n".join(s.text for s in parsed.sections)
            body_truth = plain(markdown.split("## 문단 요약")[0])
            body_seen = plain(text.split("문단 요약")[0])
            recovered.append(1 - edit_distance(body_truth, body_seen) / max(len(body_truth), 1))
            table_rows = [line for line in text.splitlines() if line.startswith("|")]
            for cell in cells:
                cell_total += 1
                cell_hits += any(f"| {cell} |" in row for row in table_rows)
        report[suffix] = {
            "text_recovered_mean": round(statistics.fmean(recovered), 4),
            "text_recovered_min": round(min(recovered), 4),
            "table_cells_found": round(cell_hits / max(cell_total, 1), 4),
            "files_per_s": round(len(articles) / seconds, 1),
            "mb_per_s": round(size / 1e6 / seconds, 2),
        }
    if args.real:
        report["real"] = real_files(args.real)
    print(json.dumps(report, ensure_ascii=False, indent=None if args.json else 2))


def real_files(folder: Path) -> dict:
    import difflib
    import io

    import olefile

    from foldrag.ingest.errors import ParseError
    from foldrag.ingest.parsers import parse_file

    parsed_ok, skipped, matched = 0, {}, []
    for path in sorted(folder.glob("*.hwp")):
        data = path.read_bytes()
        try:
            text = "\n\n".join(s.text for s in parse_file(path.name, data).sections)
            parsed_ok += 1
        except ParseError as exc:
            skipped[path.name] = str(exc)
            continue
        with olefile.OleFileIO(io.BytesIO(data)) as ole:
            if not ole.exists("PrvText"):
                continue
            preview = ole.openstream("PrvText").read().decode("utf-16-le", "replace")
        truth, seen = plain(preview.replace("<", "").replace(">", "")), plain(text)
        blocks = difflib.SequenceMatcher(None, truth, seen, autojunk=False).get_matching_blocks()
        matched.append(sum(b.size for b in blocks) / max(len(truth), 1))
    return {"files": parsed_ok + len(skipped), "parsed": parsed_ok, "skipped": skipped,
            "with_preview": len(matched), "preview_matched_mean": round(statistics.fmean(matched), 4) if matched else None,
            "preview_matched_median": round(statistics.median(matched), 4) if matched else None,
            "preview_matched_min": round(min(matched), 4) if matched else None}


if __name__ == "__main__":
    main()
