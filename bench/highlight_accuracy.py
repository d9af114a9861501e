"""Highlight accuracy: do the boxes foldrag stores at ingest cover a chunk's characters, and only them?

Usage:  .venv/bin/python bench/highlight_accuracy.py [--json]

PDFs are typeset here character by character (fpdf2, in points), so every character's box is known
independently of any PDF reader: x from the font's advance widths, y from its ascent and descent
around the baseline. Layouts: one column (English, and Korean in NanumGothic), two columns, a ruled
table between paragraphs, a paragraph running over a page break, and a scanned page (the one-column
page as an image, read by OCR). Each PDF goes through foldrag's own ingest code (``parse_file`` and
``chunk_file``, chunks of 60 words), and for every chunk:

- **covered**: the share of its characters whose known box has its centre inside the chunk's
  highlight (the union of its stored boxes on that page) — target ≥ 0.99;
- **stray**: the share of the highlight's area over no character of the chunk (sampled on a
  0.25-pt grid) — target ≤ 0.05.

A chunk's characters are found in the typeset text by aligning their visible characters (the
chunk's text is pypdf's reading, the truth is what was drawn).
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from ingest_throughput import cpu_name  # noqa: E402

STEP = 0.25  # points between the samples of a highlight's area

FONTS = {"latin": Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
         "korean": Path("/usr/share/fonts/truetype/nanum/NanumGothic.ttf")}
ENGLISH = ("Reciprocal rank fusion merges ranked lists by adding one over sixty plus each rank.",
           "Dense retrieval embeds questions and chunks into one vector space.",
           "Keyword retrieval scores exact terms with BM25.",
           "A reranker reads the question beside each candidate and orders them again.",
           "Citations point at the passage, its page and the characters it spans.")
KOREAN = ("형태소 분석기는 한국어 문장을 형태소로 나누어 검색이 조사와 어미에 흔들리지 않게 합니다.",
          "질문과 문서가 같은 어간으로 만나면 키워드 검색의 순위가 좋아집니다.",
          "인용을 누르면 원문 쪽이 열리고 그 구절이 강조됩니다.",
          "답변의 근거를 바로 확인할 수 있습니다.")


def prose(sentences: tuple[str, ...], count: int, first: int = 0) -> str:
    """``count`` sentences, each numbered, so no stretch of the text repeats (a chunk is found once)."""
    return " ".join(f"({n}) {sentences[n % len(sentences)]}" for n in range(first, first + count))


@dataclass
class Drawn:
    """What was typeset: the text in reading order and each character's page and box (points, top left)."""

    text: str
    pages: list[int]
    boxes: list[tuple[float, float, float, float] | None]


class Typesetter:
    def __init__(self, font: Path, size: float = 11.0) -> None:
        from fpdf import FPDF

        self.pdf = FPDF(unit="pt", format="A4")
        self.pdf.set_auto_page_break(False)
        self.pdf.add_font("f", fname=str(font))
        self.size = size
        self.drawn = Drawn("", [], [])
        self.page = 0

    def new_page(self) -> None:
        self.pdf.add_page()
        self.pdf.set_font("f", size=self.size)
        self.page += 1

    def _ascent(self) -> tuple[float, float]:
        desc = self.pdf.current_font.desc
        return desc.ascent * self.size / 1000, -desc.descent * self.size / 1000

    def line(self, x: float, baseline: float, text: str, end: str = "\n") -> None:
        self.pdf.text(x, baseline, text)
        up, down = self._ascent()
        for i, ch in enumerate(text):
            left = x + self.pdf.get_string_width(text[:i])
            self.drawn.text += ch
            self.drawn.pages.append(self.page)
            self.drawn.boxes.append((left, baseline - up, left + self.pdf.get_string_width(ch), baseline + down))
        self.separator(end)

    def separator(self, text: str) -> None:
        for ch in text:
            self.drawn.text += ch
            self.drawn.pages.append(self.page)
            self.drawn.boxes.append(None)

    def wrap(self, text: str, width: float) -> list[str]:
        lines, current = [], ""
        for word in text.split():
            trial = f"{current} {word}".strip()
            if current and self.pdf.get_string_width(trial) > width:
                lines.append(current)
                current = word
            else:
                current = trial
        return lines + ([current] if current else [])

    def paragraph(self, text: str, x: float, y: float, width: float, leading: float = 15.0,
                  bottom: float = 800.0) -> float:
        """Lines from ``y`` down; a new page (at the top) when the next line would pass ``bottom``."""
        for line in self.wrap(text, width):
            if y > bottom:
                self.new_page()
                y = 60.0
            self.line(x, y, line)
            y += leading
        self.separator("\n")
        return y + leading / 2

    def save(self, path: Path) -> Path:
        self.pdf.output(str(path))
        return path


def one_column(folder: Path, language: str) -> tuple[Path, Drawn]:
    t = Typesetter(FONTS["korean" if language == "korean" else "latin"])
    t.new_page()
    t.paragraph(prose(KOREAN if language == "korean" else ENGLISH, 24), 56, 80, 480)
    return t.save(folder / f"one-column-{language}.pdf"), t.drawn


def two_columns(folder: Path) -> tuple[Path, Drawn]:
    t = Typesetter(FONTS["latin"], size=10)
    t.new_page()
    t.paragraph(prose(ENGLISH, 20), 48, 80, 235, leading=13)
    t.paragraph(prose(ENGLISH, 20, first=100), 312, 80, 235, leading=13)
    return t.save(folder / "two-columns.pdf"), t.drawn


def table(folder: Path) -> tuple[Path, Drawn]:
    t = Typesetter(FONTS["latin"])
    t.new_page()
    y = t.paragraph("Leave policy for all staff members, in days per year. " + prose(ENGLISH, 8), 56, 80, 480)
    rows = [["Kind", "Days", "Paid"], ["Annual", "15", "yes"], ["Sick", "10", "yes"], ["Family", "5", "no"]]
    for row in rows:
        for col, value in enumerate(row):
            x = 56 + col * 160
            t.pdf.rect(x - 4, y - 12, 160, 18)
            t.line(x, y, value, end=" " if col < len(row) - 1 else "\n")
        y += 18
    t.paragraph("Unused annual days expire at the end of the year. " + prose(ENGLISH, 8, first=50), 56, y + 20, 480)
    return t.save(folder / "table.pdf"), t.drawn


def page_break(folder: Path) -> tuple[Path, Drawn]:
    t = Typesetter(FONTS["latin"])
    t.new_page()
    t.paragraph(prose(ENGLISH, 30), 56, 640, 480)  # starts low on page 1 and runs onto page 2
    return t.save(folder / "page-break.pdf"), t.drawn


def scanned(folder: Path, source: Path) -> Path:
    """``source``'s first page as an image only (200 dpi), as a scanner makes it."""
    import pypdfium2
    from fpdf import FPDF

    doc = pypdfium2.PdfDocument(str(source))
    image = doc[0].render(scale=200 / 72).to_pil().convert("L")
    doc.close()
    pdf = FPDF(unit="pt", format="A4")
    pdf.add_page()
    pdf.image(image, x=0, y=0, w=595.28, h=841.89)
    path = folder / "scanned.pdf"
    pdf.output(str(path))
    return path


def _visible(text: str) -> tuple[str, list[int]]:
    kept = [(i, ch) for i, ch in enumerate(text) if not ch.isspace()]
    return "".join(ch for _, ch in kept), [i for i, _ in kept]


def score_chunk(chunk, drawn: Drawn, matcher_cache: dict) -> tuple[float, float, int] | None:
    """(covered, stray, characters) of one chunk, or None when none of it was drawn with a box."""
    truth_visible, truth_at = matcher_cache.setdefault("truth", _visible(drawn.text))
    mine, mine_at = _visible(chunk.text)
    matcher = difflib.SequenceMatcher(None, mine, truth_visible, autojunk=False)
    chars = []
    for a, b, size in matcher.get_matching_blocks():
        chars.extend(truth_at[b + k] for k in range(size))
    if len(chars) < 0.9 * len(mine):
        return None
    lo, hi = min(chars), max(chars)
    cells = [(drawn.pages[i], drawn.boxes[i]) for i in range(lo, hi + 1) if drawn.boxes[i] is not None]
    rects = [(pb.page, box) for span in chunk.spans for pb in span.boxes for box in pb.boxes]
    if not rects:
        return (0.0, 0.0, len(chars))
    inside = 0
    for i in chars:
        x0, y0, x1, y1 = drawn.boxes[i]
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        inside += any(p == drawn.pages[i] and r[0] <= cx <= r[2] and r[1] <= cy <= r[3] for p, r in rects)
    sampled = stray = 0
    for page, (x0, y0, x1, y1) in rects:
        xs, ys = np.meshgrid(np.arange(x0 + STEP / 2, x1, STEP), np.arange(y0 + STEP / 2, y1, STEP))
        points = np.stack([xs.ravel(), ys.ravel()], axis=1)
        mine = np.array([c for p, c in cells if p == page] or [(0, 0, 0, 0)], dtype=np.float64)
        hit = ((points[:, None, 0] >= mine[None, :, 0]) & (points[:, None, 0] <= mine[None, :, 2])
               & (points[:, None, 1] >= mine[None, :, 1]) & (points[:, None, 1] <= mine[None, :, 3])).any(axis=1)
        sampled += len(points)
        stray += int((~hit).sum())
    return inside / len(chars), (stray / sampled if sampled else 0.0), len(chars)


def run() -> list[dict]:
    from foldrag.ingest.chunking import chunk_file, make_splitter
    from foldrag.ingest.parsers import ParseOptions, parse_file

    splitter = make_splitter(lambda text: len(text.split()), 60, 8)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cases = [("one column, English", *one_column(folder, "english")),
                 ("one column, Korean", *one_column(folder, "korean")),
                 ("two columns", *two_columns(folder)), ("table", *table(folder)),
                 ("across a page break", *page_break(folder))]
        scan_source = cases[0][1]
        cases.append(("scanned page (OCR)", scanned(folder, scan_source), cases[0][2]))
        for name, path, drawn in cases:
            parsed = parse_file(path.name, path.read_bytes(), ParseOptions(ocr="auto"))
            chunks = chunk_file(parsed, splitter)
            cache: dict = {}
            scores = [s for s in (score_chunk(c, drawn, cache) for c in chunks) if s is not None]
            chars = sum(n for _, _, n in scores)
            rows.append({
                "layout": name, "chunks": len(chunks), "scored": len(scores),
                "crossing": sum(len({pb.page for s in c.spans for pb in s.boxes}) > 1 for c in chunks),
                "covered": round(sum(c * n for c, _, n in scores) / chars, 4) if chars else 0.0,
                "covered_min": round(min((c for c, _, _ in scores), default=0.0), 4),
                "stray": round(sum(s * n for _, s, n in scores) / chars, 4) if chars else 0.0,
                "stray_max": round(max((s for _, s, _ in scores), default=0.0), 4),
                "boxed": any(c.spans and c.spans[0].boxes for c in chunks),
            })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    missing = [str(f) for f in FONTS.values() if not f.exists()]
    if missing:
        sys.exit(f"fonts missing: {', '.join(missing)} (Debian: fonts-dejavu-core, fonts-nanum)")
    rows = run()
    if args.json:
        print(json.dumps({"cpu": cpu_name(), "rows": rows}, ensure_ascii=False, indent=1))
        return
    print(f"CPU: {cpu_name()}")
    print(f"{'layout':26} {'chunks':>6} {'across':>6} {'covered':>8} {'(min)':>7} {'stray':>7} {'(max)':>7}")
    for r in rows:
        print(f"{r['layout']:26} {r['chunks']:6d} {r['crossing']:6d} {r['covered']:8.4f} {r['covered_min']:7.4f} "
              f"{r['stray']:7.4f} {r['stray_max']:7.4f}" + ("" if r["boxed"] else "   (no boxes: text view)"))


if __name__ == "__main__":
    main()
