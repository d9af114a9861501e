"""The readers of Korean office documents, slides, sheets, PDF tables, scanned pages and images."""

from __future__ import annotations

import io
import struct
import zipfile

import pytest

from foldrag.ingest.errors import ParseError
from foldrag.ingest.formats import hwp5
from foldrag.ingest.formats.ocr import tesseract_missing
from foldrag.ingest.formats.pdf import wants_ocr
from foldrag.ingest.formats.tables import markdown_table
from foldrag.ingest.parsers import ParseOptions, parse_file
from tests.docs_factory import (
    NANUM, render_text_image, write_docx, write_hwp, write_hwpx, write_pdf_with_table, write_pptx,
    write_scanned_pdf, write_xlsx,
)

REPORT = """# 업무 보고

첫 문단입니다. 한국어 문서 검색을 시험합니다.

## 예산 표

| 항목 | 금액 |
| --- | --- |
| 인건비 | 1,200만원 |
| 장비 | 350만원 |

마지막 문단: The quick brown fox.
"""

needs_ocr = pytest.mark.skipif(
    bool(tesseract_missing("kor+eng")) or not NANUM.exists(),
    reason="OCR needs tesseract-ocr, tesseract-ocr-kor and fonts-nanum (scripts/run.sh installs them as root)",
)


# --- tables -------------------------------------------------------------------------------------

def test_markdown_table_repeats_its_header_per_block_and_drops_empty_columns():
    rows = [["이름", "", "값"]] + [[f"행{i}", "", str(i)] for i in range(25)]
    text = markdown_table(rows, rows_per_block=10)
    blocks = text.split("\n\n")
    assert len(blocks) == 3
    assert all(b.startswith("| 이름 | 값 |\n|---|---|") for b in blocks)
    assert "| 행24 | 24 |" in blocks[-1]
    assert markdown_table([["a|b", None]]) == "| a\\|b |\n|---|"
    assert markdown_table([["", ""], [None, ""]]) == ""


# --- HWP 5.x ------------------------------------------------------------------------------------

def test_hwp5_body_and_table_in_reading_order(tmp_path):
    parsed = parse_file("r.hwp", write_hwp(tmp_path / "r.hwp", REPORT).read_bytes())
    text = parsed.sections[0].text
    order = [text.index(s) for s in ("업무 보고", "첫 문단입니다", "| 항목 | 금액 |", "| 인건비 | 1,200만원 |",
                                     "| 장비 | 350만원 |", "The quick brown fox")]
    assert order == sorted(order)


def _record(tag: int, level: int, payload: bytes) -> bytes:
    return struct.pack("<I", tag | (level << 10) | (len(payload) << 20)) + payload


def _style(name: str, english: str) -> bytes:
    def wide(s: str) -> bytes:
        return struct.pack("<H", len(s)) + s.encode("utf-16-le")

    return _record(hwp5.TAG_STYLE, 0, wide(name) + wide(english) + b"\x00" * 10)


def _para(level: int, text: str, style: int = 0, shape: int | None = None) -> bytes:
    header = struct.pack("<IIHB", len(text) + 1, 0, 0, style) + b"\x00" * 11
    shapes = b"" if shape is None else _record(hwp5.TAG_PARA_CHAR_SHAPE, level + 1, struct.pack("<II", 0, shape))
    return _record(hwp5.TAG_PARA_HEADER, level, header) + _record(
        hwp5.TAG_PARA_TEXT, level + 1, (text + "\r").encode("utf-16-le")) + shapes


def _char_shape(hundredths_pt: int) -> bytes:
    return _record(hwp5.TAG_CHAR_SHAPE, 0, b"\x00" * 42 + struct.pack("<i", hundredths_pt) + b"\x00" * 22)


def test_hwp5_records_outline_headings_footnotes_and_controls():
    docinfo = _style("바탕글", "Normal") + _style("개요 1", "Outline 1") + _style("개요 2", "Outline 2")
    levels = hwp5._style_levels(docinfo)
    assert levels == {1: 1, 2: 2}
    footnote_ctrl = _record(hwp5.TAG_CTRL_HEADER, 1, b"  nf" + b"\x00" * 8)  # 'fn  ' stored reversed
    # A paragraph whose text holds an extended control (8 code units: 0x11 … 0x11) before its words.
    extended = struct.pack("<8H", 0x11, 0x6E66, 0x2020, 0, 0, 0, 0, 0x11).decode("utf-16-le", "surrogatepass")
    tab = struct.pack("<8H", 9, 0, 0, 0, 0, 0, 0, 9).decode("utf-16-le")  # an inline control: 8 units too
    section = (
        _para(0, "서론", style=1)
        + _para(0, "세부 사항", style=2)
        + _record(hwp5.TAG_PARA_HEADER, 0, struct.pack("<IIHB", 20, 0, 0, 0) + b"\x00" * 11)
        + _record(hwp5.TAG_PARA_TEXT, 1, (extended + "본문" + tab + "탭 뒤 😀\r").encode("utf-16-le", "surrogatepass"))
        + footnote_ctrl
        + _record(hwp5.TAG_LIST_HEADER, 2, b"\x01\x00" + b"\x00" * 6)
        + _para(2, "각주의 내용")
    )
    writer = hwp5._Writer(levels)
    blocks = writer.paragraphs(hwp5.record_tree(section))
    assert hwp5.join_sections([blocks], writer.notes) == ["## 서론\n\n### 세부 사항\n\n본문\t탭 뒤 😀\n\n각주 1: 각주의 내용"]


def test_hwp5_headings_by_type_size_when_no_outline_style_marks_them():
    docinfo = _char_shape(1000) + _char_shape(2000) + _char_shape(1400) + _char_shape(1100)
    body = "본문은 보통 크기의 글자로 길게 이어지는 문장입니다. " * 3
    section = (_para(0, "연간 보고서", shape=1) + _para(0, body, shape=0) + _para(0, "1. 개요", shape=2)
               + _para(0, body, shape=0) + _para(0, "조금 큰 글자", shape=3)
               + _para(0, "큰 글자이지만 한 줄을 훌쩍 넘는 긴 문단은 제목이 아니다. " * 3, shape=1))
    writer = hwp5._Writer({}, hwp5._char_sizes(docinfo))
    text = hwp5.join_sections([writer.paragraphs(hwp5.record_tree(section))], [])[0].split("\n\n")
    assert text[0] == "## 연간 보고서" and text[2] == "### 1. 개요"
    assert text[4] == "조금 큰 글자", "1.1x the body size is emphasis, not a heading"
    assert not text[5].startswith("#") and not text[1].startswith("#")


def _with_flags(path, flags: int) -> bytes:
    import olefile

    with olefile.OleFileIO(str(path), write_mode=True) as ole:
        header = bytearray(ole.openstream("FileHeader").read())
        header[36:40] = struct.pack("<I", flags)
        ole.write_stream("FileHeader", bytes(header))
    return path.read_bytes()


@pytest.mark.parametrize(("flags", "reason"), [(0x03, "password-protected"), (0x05, "distribution-protected"),
                                               (0x11, "DRM-protected")])
def test_hwp5_protected_files_are_skipped_with_the_reason(tmp_path, flags, reason):
    data = _with_flags(write_hwp(tmp_path / "p.hwp", REPORT), flags)
    with pytest.raises(ParseError, match=reason):
        parse_file("p.hwp", data)


def test_hwp5_corrupt_and_foreign_files(tmp_path):
    with pytest.raises(ParseError, match="not an HWP 5 file"):
        parse_file("x.hwp", b"HWP Document File V3.00 \x1a\x01\x02\x03\x04\x05")
    data = write_hwp(tmp_path / "c.hwp", REPORT).read_bytes()
    with pytest.raises(ParseError, match="HWP"):
        parse_file("c.hwp", data[: len(data) // 3])
    with pytest.raises(ParseError, match="cut short"):
        list(hwp5.records(struct.pack("<I", 66 | (40 << 20)) + b"\x00" * 8))
    docx = write_docx(tmp_path / "d.docx", [(None, "x")]).read_bytes()
    with pytest.raises(ParseError, match="not an HWP 5 file"):
        parse_file("d.hwp", docx)


# --- HWPX ---------------------------------------------------------------------------------------

def test_hwpx_headings_body_and_table(tmp_path):
    parsed = parse_file("r.hwpx", write_hwpx(tmp_path / "r.hwpx", REPORT).read_bytes())
    text = parsed.sections[0].text
    assert "## 예산 표" in text
    order = [text.index(s) for s in ("업무 보고", "첫 문단입니다", "| 항목 | 금액 |", "| 장비 | 350만원 |",
                                     "The quick brown fox")]
    assert order == sorted(order)


_NS = ('xmlns:hp="http://www.hancom.co.kr/hwpml/2011/paragraph" '
       'xmlns:hs="http://www.hancom.co.kr/hwpml/2011/section"')


def _hwpx(sections: dict[str, str], manifest: str = "<manifest/>") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("mimetype", "application/hwp+zip")
        archive.writestr("META-INF/manifest.xml", manifest)
        for name, body in sections.items():
            archive.writestr(name, f'<?xml version="1.0" encoding="UTF-8"?><hs:sec {_NS}>{body}</hs:sec>')
    return out.getvalue()


def test_hwpx_footnotes_line_breaks_and_section_order_without_a_package_file():
    first = ('<hp:p><hp:run><hp:t>둘째 구역<hp:lineBreak/>다음 줄</hp:t><hp:ctrl><hp:footNote><hp:subList>'
             '<hp:p><hp:run><hp:t>각주 본문</hp:t></hp:run></hp:p></hp:subList></hp:footNote></hp:ctrl>'
             '</hp:run></hp:p>')
    data = _hwpx({"Contents/section10.xml": first,
                  "Contents/section2.xml": "<hp:p><hp:run><hp:t>첫 구역</hp:t></hp:run></hp:p>"})
    parsed = parse_file("n.hwpx", data)
    assert [s.text for s in parsed.sections] == ["첫 구역", "둘째 구역\n다음 줄\n\n각주 1: 각주 본문"]


def test_hwpx_encrypted_corrupt_and_bad_xml_are_skipped_with_reasons():
    body = {"Contents/section0.xml": "<hp:p><hp:run><hp:t>x</hp:t></hp:run></hp:p>"}
    with pytest.raises(ParseError, match="password-protected HWPX"):
        parse_file("e.hwpx", _hwpx(body, manifest="<m><encryption-data/></m>"))
    with pytest.raises(ParseError, match="not a zip"):
        parse_file("z.hwpx", b"PK\x03\x04 broken")
    with pytest.raises(ParseError, match="not well-formed"):
        parse_file("x.hwpx", _hwpx({"Contents/section0.xml": "<hp:p><hp:run>"}))
    with pytest.raises(ParseError, match="no Contents/section"):
        parse_file("n.hwpx", _hwpx({}))


# --- PPTX, XLSX, DOCX tables ------------------------------------------------------------------------

def test_pptx_one_section_per_slide_with_tables_and_notes(tmp_path):
    path = write_pptx(tmp_path / "d.pptx", [
        {"title": "분기 실적", "body": "매출이 늘었습니다.", "notes": "발표 때 환율을 언급할 것"},
        {"title": "지역별", "table": [["지역", "매출"], ["서울", "120억"], ["부산", "45억"]]},
    ])
    parsed = parse_file("d.pptx", path.read_bytes())
    assert [s.page for s in parsed.sections] == [1, 2]
    first, second = (s.text for s in parsed.sections)
    assert first.startswith("# 분기 실적") and "매출이 늘었습니다." in first and "환율을 언급할 것" in first
    assert "| 지역 | 매출 |" in second and "| 부산 | 45억 |" in second


def test_xlsx_sheets_as_tables_with_the_header_repeated(tmp_path):
    rows = [["품목", "수량", "단가"]] + [[f"부품{i}", i, 1.5 * i] for i in range(1, 31)]
    path = write_xlsx(tmp_path / "b.xlsx", {"재고": rows, "빈 시트": [], "메모": [["참고", "없음"]]})
    parsed = parse_file("b.xlsx", path.read_bytes())
    assert [s.page for s in parsed.sections] == [1, 3]
    stock = parsed.sections[0].text
    assert stock.startswith("## 재고") and "| 부품30 | 30 | 45 |" in stock and "| 부품2 | 2 | 3 |" in stock
    assert stock.count("| 품목 | 수량 | 단가 |") == 2  # 30 rows: two blocks of at most 20


@pytest.mark.parametrize("suffix", [".pptx", ".xlsx", ".hwpx"])
def test_corrupt_office_files_are_skipped_with_their_kind(suffix):
    with pytest.raises(ParseError, match="corrupt"):
        parse_file(f"x{suffix}", b"PK\x03\x04 not really a zip")


@pytest.mark.parametrize("suffix", [".docx", ".pptx", ".xlsx", ".hwpx"])
def test_zip_bombs_are_refused_before_parsing(suffix, monkeypatch):
    from foldrag.ingest.formats import archive as archive_module

    monkeypatch.setattr(archive_module, "MAX_UNPACKED_BYTES", 8 << 20)  # the real limit is 512 MB
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"\x00" * (20 << 20))  # 20 MB of zeros: ~20 KB packed
    assert len(out.getvalue()) < 100_000
    with pytest.raises(ParseError, match="would unpack to 21 MB"):
        parse_file(f"bomb{suffix}", out.getvalue())


def test_docx_tables_are_markdown_tables(tmp_path):
    import docx

    document = docx.Document()
    document.add_paragraph("표 앞 문단")
    table = document.add_table(rows=3, cols=2)
    for r, row in enumerate([["항목", "값"], ["속도", "빠름"], ["가격", "저렴"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    merged = document.add_table(rows=2, cols=2)
    merged.cell(0, 0).merge(merged.cell(0, 1)).text = "합친 칸"
    merged.cell(1, 0).text, merged.cell(1, 1).text = "a", "b"
    document.save(str(tmp_path / "t.docx"))
    text = parse_file("t.docx", (tmp_path / "t.docx").read_bytes()).sections[0].text
    assert "| 항목 | 값 |\n|---|---|\n| 속도 | 빠름 |\n| 가격 | 저렴 |" in text
    assert "| 합친 칸 |  |\n|---|---|\n| a | b |" in text  # a merged cell counts once


# --- PDF tables and OCR -------------------------------------------------------------------------------

def test_pdf_table_is_a_markdown_table_between_its_paragraphs(tmp_path):
    rows = [["Item", "Amount"], ["Salaries", "12,000"], ["Equipment", "3,500"]]
    path = write_pdf_with_table(tmp_path / "t.pdf", "Budget overview before the table.", rows,
                                "Closing remarks after the table.")
    text = parse_file("t.pdf", path.read_bytes()).sections[0].text
    assert "| Item | Amount |\n|---|---|\n| Salaries | 12,000 |\n| Equipment | 3,500 |" in text
    assert text.index("Budget overview") < text.index("| Item |") < text.index("Closing remarks")
    plain = parse_file("t.pdf", path.read_bytes(), ParseOptions(tables=False)).sections[0].text
    assert "| Salaries |" not in plain and "Salaries" in plain


def test_table_finder_runs_only_on_pages_that_draw_lines(tmp_path):
    from foldrag.ingest.formats.pdf import PdfOptions, page_with_tables, read_pdf
    from tests.docs_factory import write_pdf

    looked = []

    def read(path):
        def tables(page):
            looked.append(page.page_number)
            return page_with_tables(page)
        return read_pdf(path.read_bytes(), str.strip, PdfOptions(), lambda: "no OCR here", tables=tables)[0]

    read(write_pdf(tmp_path / "p.pdf", ["Plain text.", "More plain text."]))
    assert looked == [], "pages without lines or rectangles cannot hold a ruled table"
    sections = read(write_pdf_with_table(tmp_path / "t.pdf", "Before.", [["a", "b"], ["1", "2"]], "After."))
    assert looked == [1] and "| a | b |" in sections[0].text


def test_when_a_page_is_ocrd():
    a4 = 595.0 * 842.0
    assert wants_ocr("auto", "", a4, has_image=True)
    assert not wants_ocr("auto", "", a4, has_image=False), "nothing to read on an image-less empty page"
    assert wants_ocr("auto", "Figure 3", a4, has_image=True), "a caption is too little text for a page"
    assert not wants_ocr("auto", "word " * 200, a4, has_image=True), "a typed page with a picture"
    assert not wants_ocr("auto", "x" * 30, a4 / 4, has_image=True), "a small page needs fewer characters"
    assert wants_ocr("always", "word " * 200, a4, has_image=False)
    assert not wants_ocr("off", "", a4, has_image=True)


KOREAN_PAGE = "대한민국의 수도는 서울이며 인구는 약 천만 명이다. 한강이 도시를 가로질러 흐른다."


def _cer(truth: str, seen: str) -> float:
    import difflib

    a, b = "".join(truth.split()), "".join(seen.split())
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return 1.0 - sum(block.size for block in matcher.get_matching_blocks()) / max(len(a), 1)


@needs_ocr
def test_scanned_korean_pdf_is_ocrd_page_by_page_and_marked(tmp_path):
    path = write_scanned_pdf(tmp_path / "s.pdf", [KOREAN_PAGE, "두 번째 쪽: 부산은 항구 도시이다."])
    parsed = parse_file("s.pdf", path.read_bytes())
    assert [(s.page, s.ocr) for s in parsed.sections] == [(1, True), (2, True)]
    assert _cer(KOREAN_PAGE, parsed.sections[0].text) < 0.1, parsed.sections[0].text
    assert "부산" in parsed.sections[1].text
    with pytest.raises(ParseError, match="ingest.ocr is 'off'"):
        parse_file("s.pdf", path.read_bytes(), ParseOptions(ocr="off"))


@needs_ocr
def test_image_files_are_ocrd_when_ocr_is_on(tmp_path):
    buffer = io.BytesIO()
    render_text_image("영수증 합계 금액 오만 원", size=40).save(buffer, format="PNG")
    parsed = parse_file("r.png", buffer.getvalue())
    assert parsed.sections[0].ocr and "합계" in parsed.sections[0].text
    with pytest.raises(ParseError, match="OCR is off"):
        parse_file("r.png", buffer.getvalue(), ParseOptions(ocr="off"))
    with pytest.raises(ParseError, match="corrupt image"):
        parse_file("bad.jpg", b"\xff\xd8\xff\xe0 not a jpeg")


def test_without_tesseract_scanned_pages_fail_with_the_install_hint(tmp_path, monkeypatch):
    from foldrag.ingest.formats import ocr

    if not NANUM.exists():
        pytest.skip("fonts-nanum is needed to draw the scanned page")
    monkeypatch.setattr(ocr.shutil, "which", lambda name: None)
    ocr.tesseract_missing.cache_clear()
    try:
        path = write_scanned_pdf(tmp_path / "s.pdf", [KOREAN_PAGE])
        with pytest.raises(ParseError, match="OCR is unavailable.*tesseract-ocr-kor"):
            parse_file("s.pdf", path.read_bytes())
        with pytest.raises(ParseError, match="OCR is unavailable"):
            parse_file("s.png", path.read_bytes()[:0] + _png(KOREAN_PAGE))
    finally:
        ocr.tesseract_missing.cache_clear()


def _png(text: str) -> bytes:
    buffer = io.BytesIO()
    render_text_image(text).save(buffer, format="PNG")
    return buffer.getvalue()


class _FakeOcr:
    """Reads every page image as its own text (no Tesseract needed)."""

    def __init__(self) -> None:
        self.calls = 0

    def read(self, png: bytes) -> str:
        self.calls += 1
        return f"scanned words number {self.calls}"

    def read_words(self, png: bytes):
        from foldrag.ingest.formats.ocr import OcrPage

        return OcrPage(self.read(png))


def _blank_scan(path, pages: int):
    import io

    from fpdf import FPDF
    from PIL import Image

    pdf = FPDF()
    for _ in range(pages):
        pdf.add_page()
        buffer = io.BytesIO()
        Image.new("L", (400, 500), 255).save(buffer, format="PNG")
        pdf.image(buffer, x=10, y=10, w=190)
    pdf.output(str(path))
    return path


def test_ocr_tells_its_progress_page_by_page(tmp_path):
    told: list[str] = []
    path = _blank_scan(tmp_path / "scan.pdf", 3)
    parsed = parse_file("scan.pdf", path.read_bytes(),
                        ParseOptions(ocr_workers=1, report=told.append, ocr_engine=lambda options: _FakeOcr()))
    assert [(s.page, s.ocr) for s in parsed.sections] == [(1, True), (2, True), (3, True)]
    assert told == ["OCR: 1 of 3 pages read", "OCR: 2 of 3 pages read", "OCR: 3 of 3 pages read"]


def test_ocr_progress_counts_only_the_pages_ocr_reads(tmp_path):
    import io

    from fpdf import FPDF
    from PIL import Image

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for page in range(4):
        pdf.add_page()
        if page % 2 == 0:  # pages 1 and 3 have a text layer, 2 and 4 are scans
            pdf.multi_cell(0, 8, f"Typed page {page + 1} has a text layer of its own. " * 4)
        else:
            buffer = io.BytesIO()
            Image.new("L", (400, 500), 255).save(buffer, format="PNG")
            pdf.image(buffer, x=10, y=10, w=190)
    path = tmp_path / "mixed.pdf"
    pdf.output(str(path))
    told: list[str] = []
    parsed = parse_file("mixed.pdf", path.read_bytes(),
                        ParseOptions(ocr_workers=1, report=told.append, ocr_engine=lambda options: _FakeOcr()))
    assert [(s.page, s.ocr) for s in parsed.sections] == [(1, False), (2, True), (3, False), (4, True)]
    assert told == ["OCR: 1 of 2 pages read", "OCR: 2 of 2 pages read"]


def test_an_ingest_progress_hears_ocr_pages_between_files(tmp_path, settings, fake_embedder):
    from foldrag.indexes.folder import IndexWriter
    from foldrag.ingest.local_engine import LocalEngine
    from foldrag.ingest.pipeline import ingest_folder

    docs = tmp_path / "docs"
    docs.mkdir()
    _blank_scan(docs / "scan.pdf", 4)
    (docs / "note.md").write_text("# Note\n\nplain text")
    events: list[tuple] = []

    class Recording:
        def start(self, total_files): events.append(("start", total_files))
        def advance(self, files, chunks): events.append(("advance", files))
        def note(self, text): events.append(("note", text))
        def close(self): events.append(("close",))

    with IndexWriter.open(settings.index.path, fake_embedder.name, fake_embedder.dimension, settings.index) as writer:
        summary = ingest_folder(docs, writer, fake_embedder, settings.ingest, progress=Recording(),
                                engine=LocalEngine(ocr_engine=lambda options: _FakeOcr()))
    assert summary.added == 2 and not summary.failed
    notes = [e[1] for e in events if e[0] == "note"]
    assert notes[-1] == "scan.pdf: OCR: 4 of 4 pages read" and len(notes) == 4
    assert events.index(("note", notes[-1])) < max(i for i, e in enumerate(events) if e == ("advance", 1))
