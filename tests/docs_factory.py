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
