"""Writes the binary example documents (PDF, DOCX, CP949 text) in examples/docs.

The Markdown, HTML and UTF-8 text examples are plain files in the repository; this script
makes the rest so that every supported format is covered. Run it from the repository root:
    python examples/make_docs.py      (needs fpdf2 and python-docx)
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


def main() -> None:
    DOCS.mkdir(parents=True, exist_ok=True)
    write_pdf(DOCS / "gpu-offload.pdf")
    write_docx(DOCS / "embeddings-ko.docx")
    (DOCS / "morphology-cp949.txt").write_bytes(CP949_TEXT.encode("cp949"))


if __name__ == "__main__":
    main()
