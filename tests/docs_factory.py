"""Builders of small test documents in every supported format."""

from __future__ import annotations

from pathlib import Path


def write_pdf(path: Path, pages: list[str]) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    for text in pages:
        pdf.add_page()
        pdf.set_font("Helvetica", size=12)
        pdf.multi_cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


def write_docx(path: Path, blocks: list[tuple[int | None, str]], title: str | None = None) -> Path:
    """``blocks``: (heading level or None for a paragraph, text)."""
    import docx

    document = docx.Document()
    if title:
        document.core_properties.title = title
    for level, text in blocks:
        if level is None:
            document.add_paragraph(text)
        else:
            document.add_heading(text, level=level)
    document.save(str(path))
    return path


def write_pdf_with_table(path: Path, before: str, rows: list[list[str]], after: str) -> Path:
    """A one-page PDF: a paragraph, a ruled table (the first row its header), another paragraph."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 7, before, new_x="LMARGIN", new_y="NEXT")
    with pdf.table() as table:
        for row in rows:
            cells = table.row()
            for value in row:
                cells.cell(value)
    pdf.multi_cell(0, 7, after, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


NANUM = Path("/usr/share/fonts/truetype/nanum/NanumGothic.ttf")


def korean_font(size: int):
    """Debian's NanumGothic at ``size`` px (fonts-nanum; scripts/run.sh installs it)."""
    from PIL import ImageFont

    return ImageFont.truetype(str(NANUM), size)


def render_text_image(text: str, size: int = 28, width: int = 1600, noise: float = 0.0, seed: int = 0):
    """``text`` typeset in black on white (greyscale, wrapped to ``width`` px) as a scan would show it;
    ``noise`` is the standard deviation of Gaussian pixel noise (0-255 scale)."""
    import numpy as np
    from PIL import Image, ImageDraw

    font = korean_font(size)
    margin, lines, line = size * 2, [], ""
    for word in text.split():
        trial = f"{line} {word}".strip()
        if font.getlength(trial) > width - 2 * margin and line:
            lines.append(line)
            line = word
        else:
            line = trial
    lines.append(line)
    step = int(size * 1.6)
    image = Image.new("L", (width, 2 * margin + step * len(lines)), 255)
    draw = ImageDraw.Draw(image)
    for i, text_line in enumerate(lines):
        draw.text((margin, margin + i * step), text_line, fill=0, font=font)
    if noise > 0:
        pixels = np.asarray(image, dtype=np.float32)
        pixels += np.random.default_rng(seed).normal(0.0, noise, pixels.shape)
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    return image


def write_scanned_pdf(path: Path, pages: list[str], size: int = 28) -> Path:
    """A PDF whose pages are images of text only (no text layer), as a scanner makes them."""
    import io

    from fpdf import FPDF

    pdf = FPDF()
    for text in pages:
        pdf.add_page()
        buffer = io.BytesIO()
        render_text_image(text, size=size).save(buffer, format="PNG")
        pdf.image(buffer, x=10, y=10, w=190)
    pdf.output(str(path))
    return path


def write_hwp(path: Path, markdown: str) -> Path:
    """An HWP 5.x file written from ``markdown`` by an independent writer (hwp-converter-ai, MIT)."""
    from hwp_converter_ai import HwpWriter

    HwpWriter().from_markdown(markdown, Path(path))
    return path


def write_hwpx(path: Path, markdown: str) -> Path:
    """An HWPX file written from ``markdown`` by hwp-converter-ai."""
    from hwp_converter_ai import HwpxGenerator

    HwpxGenerator().from_markdown(markdown, output_path=Path(path))
    return path


def write_pptx(path: Path, slides: list[dict]) -> Path:
    """``slides``: dicts with 'title', optional 'body', 'table' (rows) and 'notes'."""
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    for spec in slides:
        slide = deck.slides.add_slide(deck.slide_layouts[5])  # title only
        slide.shapes.title.text = spec["title"]
        if spec.get("body"):
            box = slide.shapes.add_textbox(Inches(1), Inches(1.5), Inches(8), Inches(1))
            box.text_frame.text = spec["body"]
        if spec.get("table"):
            rows = spec["table"]
            shape = slide.shapes.add_table(len(rows), len(rows[0]), Inches(1), Inches(3), Inches(8), Inches(2))
            for r, row in enumerate(rows):
                for c, value in enumerate(row):
                    shape.table.cell(r, c).text = value
        if spec.get("notes"):
            slide.notes_slide.notes_text_frame.text = spec["notes"]
    deck.save(str(path))
    return path


def write_xlsx(path: Path, sheets: dict[str, list[list]]) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(str(path))
    return path


STUDY_NOTE = """# DeepSeek-R1 공부 노트

DeepSeek-R1은 강화학습으로 추론 능력을 키운 모델이다. 작은 모델에는 R1의 추론을 증류했다.

## 증류 모델

| 모델 | 크기 | 기반 모델 |
|---|---|---|
| DeepSeek-R1-Distill-Qwen-1.5B | 1.5B | Qwen2.5-Math-1.5B |
| DeepSeek-R1-Distill-Qwen-7B | 7B | Qwen2.5-Math-7B |
| DeepSeek-R1-Distill-Llama-8B | 8B | Llama-3.1-8B |
| DeepSeek-R1-Distill-Qwen-14B | 14B | Qwen2.5-14B |
| DeepSeek-R1-Distill-Qwen-32B | 32B | Qwen2.5-32B |
| DeepSeek-R1-Distill-Llama-70B | 70B | Llama-3.3-70B-Instruct |

증류 모델은 DeepSeek-R1-Distill 모델이라고 부르며, 크기는 1.5B, 7B, 8B, 14B, 32B, 70B이다.
노트북에서는 1.5B나 7B를 GGUF로 받아 llama.cpp로 돌리는 것이 현실적이다.
"""

MANUAL_FILLER = ("Check the inlet filter before each shift. The pump draws water through the lower inlet. "
                 "Keep the housing dry while the motor runs. Record every start in the logbook. ")
MANUAL_TARGET = "The obsidian valve holds the pressure at 40 bar."


def write_manual_pdf(path: Path) -> Path:
    """A two-page pump manual whose one paragraph runs over the page break, and whose sentence
    ``MANUAL_TARGET`` is printed on page 2, starting after the break (page 1 ends mid-sentence)."""
    from fpdf import FPDF
    from pypdf import PdfReader

    for lead in range(200):
        pdf = FPDF()
        pdf.add_page()
        pdf.set_font("Helvetica", size=12)
        text = MANUAL_FILLER * (14 + lead // 20) + "Manual " * (lead % 20) + "The service interval for the seals is six months. " + \
            MANUAL_TARGET + " Open it only with the pump stopped."
        pdf.multi_cell(0, 7, text)
        pdf.output(str(path))
        pages = [page.extract_text() for page in PdfReader(path).pages]
        if len(pages) != 2:
            continue
        first, second = pages
        if MANUAL_TARGET in second.replace("\n", " ") and not first.rstrip().endswith(".") \
                and len(second.split(MANUAL_TARGET)[0]) < 80:
            return path
    raise AssertionError("no layout puts the sentence just after the page break")


def write_situation(folder: Path, examples: Path) -> Path:
    """The folder of issue 41's situation: a Korean study note with a model-size table, the
    leave-policy HWPX and the RRF page from ``examples`` (examples/docs), and the two-page manual."""
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "deepseek-notes-ko.md").write_text(STUDY_NOTE, encoding="utf-8")
    for name in ("leave-policy-ko.hwpx", "rank-fusion.html"):
        shutil.copy(examples / name, folder / name)
    write_manual_pdf(folder / "manual.pdf")
    return folder


# (question, what a right answer holds: any of these)
SITUATION_QUESTIONS = [
    ("RRF는 여러 검색 결과의 순위를 어떻게 합치나요?", ("1 / (k + rank)", "1/(k + rank)", "1/(k+rank)")),
    ("What is the sick leave allowance in the leave policy?", ("30일", "30 days", "thirty days")),
    ("DeepSeek-R1-Distill 모델에는 어떤 크기들이 있나요?", ("70B",)),
    ("병가는 며칠인가요?", ("30일",)),
    ("What pressure does the obsidian valve hold?", ("40 bar",)),
]
