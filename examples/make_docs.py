"""Writes the binary example documents (PDF, DOCX, CP949 text, HWPX, a scanned PDF, XLSX) in
examples/docs.

The Markdown, HTML and UTF-8 text examples are plain files in the repository; this script
makes the rest so that every supported format is covered. Run it from the repository root:
    .venv/bin/python examples/make_docs.py
(needs the test extra — fpdf2, python-docx, hwp-converter-ai — and Debian's fonts-nanum)
"""

from __future__ import annotations

from pathlib import Path

DOCS = Path(__file__).parent / "docs"

PDF_PAGES = [
    (
        "GPU offload for local models",
        "foldrag runs its language model on the user's own machine. When the GPU cannot hold the "
        "whole model, GPU offload places as many decoder layers on the GPU as fit in free VRAM and "
        "keeps the remaining layers on the CPU. The planner reads free memory and the model size, "
        "builds an accelerate device map and logs where each layer landed.",
    ),
    (
        "CPU-only and disk offload",
        "Without CUDA, foldrag falls back to the CPU with a warning. Layers that fit neither in VRAM "
        "nor in RAM can be offloaded to a folder on disk, which is slow but lets a large model run on "
        "a small machine. On CPUs with native bfloat16 (AMX or AVX512-BF16), bf16 is faster than fp32.",
    ),
]

DOCX_PARAGRAPHS = [
    ("Title", "임베딩과 벡터 검색"),
    ("Heading 1", "임베딩이란"),
    (None, "임베딩은 문장을 고정된 길이의 벡터로 바꾸는 방법입니다. 의미가 비슷한 문장은 가까운 벡터가 됩니다."),
    ("Heading 1", "FAISS 인덱스"),
    (None, "FAISS는 벡터 사이의 내적을 빠르게 계산하여 가장 가까운 청크를 찾습니다. "
           "작은 코퍼스에는 정확한 Flat 인덱스를, 큰 코퍼스에는 HNSW나 IVF를 씁니다."),
    ("Heading 1", "Embeddings in English"),
    (None, "An embedding model such as all-MiniLM-L6-v2 maps a sentence to a 384-dimensional vector; "
           "cosine similarity between vectors measures how close two passages are in meaning."),
]

CP949_TEXT = (
    "형태소 분석과 BM25\n\n"
    "한국어는 조사와 어미가 단어에 붙는 교착어입니다. 그래서 'RAG를'과 'RAG는'을 같은 단어로 보려면 "
    "형태소 분석기가 필요합니다. Kiwi 형태소 분석기는 명사와 동사 같은 내용 형태소만 남기고 조사를 버립니다.\n\n"
    "BM25는 단어의 빈도와 문서 길이를 고려하는 키워드 검색 점수입니다. 밀집 벡터 검색과 함께 쓰면 "
    "정확한 용어와 의미를 모두 찾을 수 있습니다.\n"
)


def write_pdf(path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title("GPU offload notes")
    for heading, body in PDF_PAGES:
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 16)
        pdf.multi_cell(0, 10, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=12)
        pdf.multi_cell(0, 7, body, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))


def write_docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.core_properties.title = "임베딩과 벡터 검색"
    for style, text in DOCX_PARAGRAPHS:
        if style == "Title":
            document.add_heading(text, level=0)
        elif style:
            document.add_heading(text, level=int(style[-1]))
        else:
            document.add_paragraph(text)
    document.save(str(path))


HWPX_MARKDOWN = """# 휴가 규정

직원은 입사 첫해에 열다섯 날의 연차 휴가를 받는다. 연차 휴가는 다음 해 삼월 말까지 쓸 수 있다.

## 휴가 종류

| 종류 | 일수 | 비고 |
| --- | --- | --- |
| 연차 휴가 | 15일 | 근속 2년마다 하루씩 늘어난다 |
| 병가 | 30일 | 진단서가 필요하다 |
| 경조 휴가 | 5일 | 결혼, 출산, 상 |
"""

SCANNED_NOTICE = ("사내 공지. 십이월 둘째 주 금요일에 서버실 정기 점검이 있습니다. 점검 시간은 오후 여섯 시부터 "
                  "자정까지이며, 그동안 사내 위키와 메일 서버를 쓸 수 없습니다.")

BUDGET_ROWS = [["항목", "2025년", "2026년"], ["GPU 서버", "4,200만원", "6,000만원"],
               ["클라우드 저장소", "900만원", "1,100만원"], ["교육", "300만원", "450만원"]]


def write_hwpx(path: Path) -> None:
    from hwp_converter_ai import HwpxGenerator

    HwpxGenerator().from_markdown(HWPX_MARKDOWN, output_path=path)


def write_scanned_pdf(path: Path) -> None:
    """A page that is only an image of text, as a scanner makes it (OCR reads it at ingest)."""
    import io

    from fpdf import FPDF
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype("/usr/share/fonts/truetype/nanum/NanumGothic.ttf", 30)
    words, lines, line = SCANNED_NOTICE.split(), [], ""
    for word in words:
        if font.getlength(f"{line} {word}") > 1400 and line:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    image = Image.new("L", (1600, 200 + 50 * len(lines)), 255)
    draw = ImageDraw.Draw(image)
    for n, text in enumerate(lines):
        draw.text((100, 100 + 50 * n), text, fill=0, font=font)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    pdf = FPDF()
    pdf.add_page()
    pdf.image(buffer, x=10, y=10, w=190)
    pdf.output(str(path))


def write_xlsx(path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "IT 예산"
    for row in BUDGET_ROWS:
        sheet.append(row)
    book.save(str(path))


def main() -> None:
    DOCS.mkdir(parents=True, exist_ok=True)
    write_pdf(DOCS / "gpu-offload.pdf")
    write_docx(DOCS / "embeddings-ko.docx")
    (DOCS / "morphology-cp949.txt").write_bytes(CP949_TEXT.encode("cp949"))
    write_hwpx(DOCS / "leave-policy-ko.hwpx")
    write_scanned_pdf(DOCS / "scanned-notice-ko.pdf")
    write_xlsx(DOCS / "it-budget-ko.xlsx")


if __name__ == "__main__":
    main()
