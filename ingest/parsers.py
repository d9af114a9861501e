"""One parser per file format: bytes in, ``ParsedFile`` out, or ``ParseError`` with a reason.

Structured formats (Markdown, HTML, DOCX, HWP, HWPX, slides) come out as Markdown-like text whose
headings start with '#' and whose tables are Markdown tables, so the chunker can keep a heading with
its paragraphs. The readers of binary formats live in ``ingest/formats/``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from foldrag.ingest.decode import decode_text
from foldrag.ingest.errors import ParseError
from foldrag.core.locations import join_pages
from foldrag.core.types import ParsedFile, Section

if TYPE_CHECKING:
    from foldrag.ingest.formats.ocr import OcrEngine

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")


@dataclass(frozen=True)
class ParseOptions:
    """What the parsers are told (from ``ingest`` settings)."""

    ocr: str = "auto"  # auto: pages without (enough) text and image files; always: every page; off
    ocr_languages: str = "kor+eng"
    ocr_dpi: int = 300
    tables: bool = True  # PDF tables found and kept as Markdown tables
    ocr_workers: int = 2  # OCR processes at once for one PDF
    # Told how far a long parse is ("OCR: 12 of 40 pages read"); called from any thread, must not block.
    report: Callable[[str], None] | None = field(default=None, compare=False)
    # Makes the OCR engine (or says why there is none) when a page first needs it; None: Tesseract,
    # when it is installed with ``ocr_languages``. Tests pass a fake engine.
    ocr_engine: Callable[["ParseOptions"], "OcrEngine | str"] | None = field(default=None, compare=False)

_MD_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
_BLANKS = re.compile(r"\n{3,}")


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def _first_heading(text: str) -> str | None:
    match = _MD_HEADING.search(text)
    return match.group(2).strip() if match else None


def _single(source: str, text: str, title: str | None) -> ParsedFile:
    text = _tidy(text)
    if not text:
        raise ParseError("empty file (no text)")
    return ParsedFile(source=source, sections=(Section(text=text, title=title),), title=title)


def parse_text(source: str, data: bytes, options: ParseOptions) -> ParsedFile:
    return _single(source, decode_text(data), None)


def parse_markdown(source: str, data: bytes, options: ParseOptions) -> ParsedFile:
    text = decode_text(data)
    if text.startswith("---\n"):  # YAML front matter: keep its title, drop the block
        end = text.find("\n---", 4)
        if end != -1:
            front, text = text[4:end], text[end + 4 :]
            match = re.search(r"^title:\s*(.+)$", front, re.MULTILINE)
            if match:
                return _single(source, text, match.group(1).strip().strip("'\""))
    return _single(source, text, _first_heading(text))


def parse_html(source: str, data: bytes, options: ParseOptions) -> ParsedFile:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "svg", "nav", "iframe"]):
        tag.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    if soup.title:
        soup.title.decompose()
    for level in range(1, 7):
        for tag in soup.find_all(f"h{level}"):
            tag.replace_with(f"\n\n{'#' * level} {tag.get_text(' ', strip=True)}\n\n")
    for tag in soup.find_all(["p", "div", "section", "article", "li", "tr", "br", "pre", "blockquote"]):
        tag.insert_before("\n")
        tag.insert_after("\n")
    text = soup.get_text()
    text = "\n".join(re.sub(r"[ \t\xa0]+", " ", line).strip() for line in text.split("\n"))
    return _single(source, text, title or _first_heading(text))


def parse_docx(source: str, data: bytes, options: ParseOptions) -> ParsedFile:
    from foldrag.ingest.formats.office import read_docx

    text, title = read_docx(data)
    return _single(source, text, title or _first_heading(_tidy(text)))


def _sections(source: str, sections: list[Section], title: str | None, kind: str) -> ParsedFile:
    tidy = [s if (text := _tidy(s.text)) == s.text else Section(text=text, page=s.page, title=s.title, ocr=s.ocr)
            for s in sections]  # a layout holds for the text it was made from only
    tidy = [s for s in tidy if s.text]
    if not tidy:
        raise ParseError(f"empty {kind} (no text)")
    return ParsedFile(source=source, sections=tuple(tidy), title=title or _first_heading(tidy[0].text))


def _ocr_engine(options: ParseOptions) -> OcrEngine | str:
    """The OCR engine for ``options``, or why there is none."""
    if options.ocr_engine is not None:
        return options.ocr_engine(options)
    from foldrag.ingest.formats.ocr import TesseractOcr, tesseract_missing

    missing = tesseract_missing(options.ocr_languages)
    return missing if missing else TesseractOcr(languages=options.ocr_languages)


def parse_pdf(source: str, data: bytes, options: ParseOptions) -> ParsedFile:
    from foldrag.ingest.formats.pdf import PdfOptions, read_pdf

    pdf = PdfOptions(ocr=options.ocr, ocr_dpi=options.ocr_dpi, tables=options.tables, ocr_workers=options.ocr_workers,
                     report=options.report)
    sections, title = read_pdf(data, _tidy, pdf, lambda: _ocr_engine(options))
    return _sections(source, _page_runs(sections), title, "PDF")


_ENDS_PARAGRAPH = re.compile(r"[.!?。:)\]|]\s*$")


def _page_runs(sections: list[Section]) -> list[Section]:
    """Consecutive PDF pages with a text layer (and a layout) joined into one section: by a line
    break when the page ends mid-sentence (the paragraph goes on, and is chunked as one across the
    break), else by a blank line. OCR'd pages stay their own."""
    out: list[Section] = []
    for section in sections:
        last = out[-1] if out else None
        if (last is not None and section.layout is not None and last.layout is not None and not section.ocr
                and not last.ocr and section.page == last.layout.pages[-1][1].page + 1):
            gap = "\n\n" if _ENDS_PARAGRAPH.search(last.text) else "\n"
            out[-1] = Section(text=last.text + gap + section.text, page=last.page, title=last.title,
                              layout=join_pages(last.layout, len(last.text), len(gap), section.layout))
        else:
            out.append(section)
    return out


def parse_hwp(source: str, data: bytes, options: ParseOptions) -> ParsedFile:
    from foldrag.ingest.formats.hwp5 import read_hwp5

    return _sections(source, [Section(text=t) for t in read_hwp5(data)], None, "HWP document")


def parse_hwpx(source: str, data: bytes, options: ParseOptions) -> ParsedFile:
    from foldrag.ingest.formats.hwpx import read_hwpx

    texts, title = read_hwpx(data)
    return _sections(source, [Section(text=t) for t in texts], title, "HWPX document")


def parse_pptx(source: str, data: bytes, options: ParseOptions) -> ParsedFile:
    from foldrag.ingest.formats.office import read_pptx

    sections, title = read_pptx(data)
    return _sections(source, sections, title, "presentation")


def parse_xlsx(source: str, data: bytes, options: ParseOptions) -> ParsedFile:
    from foldrag.ingest.formats.office import read_xlsx

    sections, title = read_xlsx(data)
    return _sections(source, sections, title, "workbook")


def parse_image(source: str, data: bytes, options: ParseOptions) -> ParsedFile:
    from foldrag.ingest.formats.ocr import read_image

    if options.ocr == "off":
        raise ParseError("image file: OCR is off (ingest.ocr)")
    engine = _ocr_engine(options)
    if isinstance(engine, str):
        raise ParseError(f"image file, and OCR is unavailable: {engine}")
    text = _tidy(read_image(data, engine))
    if not text:
        raise ParseError("image file: OCR found no text")
    return ParsedFile(source=source, sections=(Section(text=text, ocr=True),), title=None)


PARSERS: dict[str, Callable[[str, bytes, ParseOptions], ParsedFile]] = {
    ".txt": parse_text,
    ".md": parse_markdown,
    ".markdown": parse_markdown,
    ".html": parse_html,
    ".htm": parse_html,
    ".docx": parse_docx,
    ".pdf": parse_pdf,
    ".hwp": parse_hwp,
    ".hwpx": parse_hwpx,
    ".pptx": parse_pptx,
    ".xlsx": parse_xlsx,
    ".xlsm": parse_xlsx,
    **{suffix: parse_image for suffix in IMAGE_SUFFIXES},
}
SUPPORTED_SUFFIXES = frozenset(PARSERS)


def ingested_suffixes(ocr: str) -> frozenset[str]:
    """The suffixes a folder ingest takes: image files only while OCR is on."""
    return SUPPORTED_SUFFIXES if ocr != "off" else SUPPORTED_SUFFIXES - frozenset(IMAGE_SUFFIXES)


def parse_file(source: str, data: bytes, options: ParseOptions = ParseOptions()) -> ParsedFile:
    """Parse ``data`` by the suffix of ``source``; raises ParseError with a user-facing reason."""
    suffix = "." + source.rsplit(".", 1)[-1].lower() if "." in source else ""
    parser = PARSERS.get(suffix)
    if parser is None:
        raise ParseError(f"unsupported file type {suffix or '(none)'}")
    if not data.strip():
        raise ParseError("empty file")
    return parser(source, data, options)
