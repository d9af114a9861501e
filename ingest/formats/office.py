"""Office Open XML: DOCX (headings, paragraphs and tables in body order), PPTX (one section per
slide: its title, text, tables and speaker notes) and XLSX (one section per sheet, as a table)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

from foldrag.ingest.errors import ParseError
from foldrag.ingest.formats.archive import check_zip
from foldrag.ingest.formats.tables import markdown_table
from foldrag.core.types import Section

MAX_SHEET_CELLS = 2_000_000  # a sheet past this is cut (and says so), not read into memory whole


def _docx_table(table) -> str:
    rows = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:  # a merged cell repeats across the columns it spans: keep it once
            key = id(cell._tc)
            cells.append("" if key in seen else cell.text)
            seen.add(key)
        rows.append(cells)
    return markdown_table(rows)


def docx_blocks(document) -> Iterator[str]:
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            text = block.text.strip()
            if not text:
                continue
            style = (block.style.name if block.style is not None else "") or ""
            level = re.match(r"Heading (\d)", style)
            if style == "Title":
                yield f"# {text}"
            elif level:
                yield f"{'#' * min(int(level.group(1)) + 1, 6)} {text}"
            else:
                yield text
        elif isinstance(block, Table):
            table = _docx_table(block)
            if table:
                yield table


def read_docx(data: bytes) -> tuple[str, str | None]:
    import docx

    check_zip(data, "DOCX")
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises zipfile/KeyError/ValueError kinds for broken files
        raise ParseError(f"corrupt DOCX: {type(exc).__name__}: {exc}") from exc
    return "\n\n".join(docx_blocks(document)), (document.core_properties.title or "").strip() or None


def _shape_blocks(shape) -> Iterator[str]:
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
        for inner in shape.shapes:
            yield from _shape_blocks(inner)
        return
    if getattr(shape, "has_table", False) and shape.has_table:
        table = markdown_table([[cell.text for cell in row.cells] for row in shape.table.rows])
        if table:
            yield table
    elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
        text = shape.text_frame.text.strip()
        if text:
            yield text


def read_pptx(data: bytes) -> tuple[list[Section], str | None]:
    from pptx import Presentation

    check_zip(data, "PPTX")
    try:
        deck = Presentation(io.BytesIO(data))
    except Exception as exc:  # python-pptx raises zipfile/KeyError/lxml kinds for broken files
        raise ParseError(f"corrupt PPTX: {type(exc).__name__}: {exc}") from exc
    sections = []
    for number, slide in enumerate(deck.slides, start=1):
        title_shape = slide.shapes.title
        title = title_shape.text_frame.text.strip() if title_shape is not None else ""
        blocks = [f"# {title}"] if title else []
        for shape in slide.shapes:
            if title_shape is not None and shape.shape_id == title_shape.shape_id:
                continue
            blocks.extend(_shape_blocks(shape))
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame.text.strip() if slide.notes_slide.notes_text_frame else ""
            if notes:
                blocks.append(f"발표자 노트 (notes): {notes}")
        text = "\n\n".join(blocks).strip()
        if text:
            sections.append(Section(text=text, page=number, title=None))
    return sections, (deck.core_properties.title or "").strip() or None


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_xlsx(data: bytes) -> tuple[list[Section], str | None]:
    from openpyxl import load_workbook

    check_zip(data, "XLSX")
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile/KeyError/InvalidFileException for broken files
        raise ParseError(f"corrupt XLSX: {type(exc).__name__}: {exc}") from exc
    sections = []
    try:
        for number, sheet in enumerate(book.worksheets, start=1):
            rows, cells, cut = [], 0, False
            for row in sheet.iter_rows(values_only=True):
                values = [_cell_text(v) for v in row]
                cells += len(values)
                if cells > MAX_SHEET_CELLS:
                    cut = True
                    break
                rows.append(values)
            table = markdown_table(rows)
            if not table:
                continue
            note = f"\n\n(sheet cut at {MAX_SHEET_CELLS:,} cells)" if cut else ""
            sections.append(Section(text=f"## {sheet.title}\n\n{table}{note}", page=number, title=None))
        title = (book.properties.title or "").strip() or None
    finally:
        book.close()
    return sections, title
