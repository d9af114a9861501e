"""HWP 5.x and HWPX text recovery: the same Korean documents written as Markdown, saved as .hwp and
.hwpx by an independent writer (hwp-converter-ai, MIT), read back by foldrag's readers.

Usage:  .venv/bin/python bench/hwp_recovery.py [--articles 40] [--data ../shared/data/korquad-v1-dev/KorQuAD_v1.0_dev.json] [--json]

Each document is one KorQuAD article: its title as a heading, its paragraphs, and a table of
(paragraph number, first sentence, length) so that tables are measured too. Reported: the share
of the source's characters recovered in order (1 - edit distance / length, whitespace and Markdown
markup removed from both sides), the share of table cells found inside a Markdown table row, the
share of headings kept as headings, and read speed.
"""

from __future__ import annotations

import argparse
import json
import os
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


def document(article: dict) -> tuple[str, list[str], list[str]]:
    """Markdown for one article, its table cells and its headings."""
    title = article["title"].replace("_", " ")
    paragraphs = [p["context"].replace("\n", " ") for p in article["paragraphs"]]
    cells, rows = [], ["| 문단 | 첫 문장 | 글자 수 |", "| --- | --- | --- |"]
    for n, text in enumerate(paragraphs, start=1):
        first = text.split(". ")[0][:40].replace("|", " ").strip()
        rows.append(f"| {n} | {first} | {len(text)} |")
        cells += [str(n), first, str(len(text))]
    markdown = f"# {title}\n\n" + "\n\n".join(paragraphs) + "\n\n## 문단 요약\n\n" + "\n".join(rows) + "\n"
    return markdown, cells, [title, "문단 요약"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=40)
    parser.add_argument("--data", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared/data/korquad-v1-dev/KorQuAD_v1.0_dev.json")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import contextlib
    import io

    from ingest.parsers import parse_file
    from ocr_quality import cpu_name, edit_distance
    from tests.docs_factory import write_hwp, write_hwpx

    articles = json.loads(args.data.read_text(encoding="utf-8"))["data"][: args.articles]
    work = Path(tempfile.mkdtemp(prefix="foldrag-hwp-"))
    report = {"cpu": cpu_name(), "articles": len(articles)}
    for suffix, write in ((".hwp", write_hwp), (".hwpx", write_hwpx)):
        recovered, cell_hits, cell_total, head_hits, head_total, seconds, size = [], 0, 0, 0, 0, 0.0, 0
        for n, article in enumerate(articles):
            markdown, cells, headings = document(article)
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
            for heading in headings:
                head_total += 1
                head_hits += bool(re.search(rf"^#+ {re.escape(heading)}$", text, re.MULTILINE))
        report[suffix] = {
            "text_recovered_mean": round(statistics.fmean(recovered), 4),
            "text_recovered_min": round(min(recovered), 4),
            "table_cells_found": round(cell_hits / max(cell_total, 1), 4),
            "headings_kept": round(head_hits / max(head_total, 1), 4),
            "files_per_s": round(len(articles) / seconds, 1),
            "mb_per_s": round(size / 1e6 / seconds, 2),
        }
    print(json.dumps(report, ensure_ascii=False, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
