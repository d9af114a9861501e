"""One parser per file format: bytes in, ``ParsedFile`` out, or ``ParseError`` with a reason.

Structured formats (Markdown, HTML, DOCX) come out as Markdown-like text whose headings
start with '#', so the chunker can keep a heading with its paragraphs.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable

from ingest.decode import decode_text
from ingest.errors import ParseError
from rag.core.types import ParsedFile, Section

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


def parse_text(source: str, data: bytes) -> ParsedFile:
    return _single(source, decode_text(data), None)


def parse_markdown(source: str, data: bytes) -> ParsedFile:
    text = decode_text(data)
    if text.startswith("---\n"):  # YAML front matter: keep its title, drop the block
        end = text.find("\n---", 4)
        if end != -1:
            front, text = text[4:end], text[end + 4 :]
            match = re.search(r"^title:\s*(.+)$", front, re.MULTILINE)
            if match:
                return _single(source, text, match.group(1).strip().strip("'\""))
    return _single(source, text, _first_heading(text))


def parse_html(source: str, data: bytes) -> ParsedFile:
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


def parse_docx(source: str, data: bytes) -> ParsedFile:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises zipfile/KeyError/ValueError kinds for broken files
        raise ParseError(f"corrupt DOCX: {type(exc).__name__}: {exc}") from exc
    parts: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            text = block.text.strip()
            if not text:
                continue
            style = (block.style.name if block.style is not None else "") or ""
            level = re.match(r"Heading (\d)", style)
            if style == "Title":
                parts.append(f"# {text}")
            elif level:
                parts.append(f"{'#' * min(int(level.group(1)) + 1, 6)} {text}")
            else:
                parts.append(text)
        elif isinstance(block, Table):
            for row in block.rows:
                cells = [cell.text.strip() for cell in row.cells]
                parts.append(" | ".join(c for c in cells if c))
    text = "\n\n".join(parts)
    title = (document.core_properties.title or "").strip() or _first_heading(text)
    return _single(source, text, title)


def parse_pdf(source: str, data: bytes) -> ParsedFile:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ParseError("encrypted PDF (needs a password)")
        sections = []
        for number, page in enumerate(reader.pages, start=1):
            text = _tidy(page.extract_text() or "")
            if text:
                sections.append(Section(text=text, page=number))
        meta_title = (reader.metadata.title if reader.metadata else None) or None
    except ParseError:
        raise
    except (PdfReadError, Exception) as exc:  # pypdf raises many kinds on damaged files
        raise ParseError(f"corrupt PDF: {type(exc).__name__}: {exc}") from exc
    if not sections:
        raise ParseError("PDF has no text layer (scanned images need OCR first)")
    title = str(meta_title).strip() if meta_title else None
    return ParsedFile(source=source, sections=tuple(sections), title=title)


PARSERS: dict[str, Callable[[str, bytes], ParsedFile]] = {
    ".txt": parse_text,
    ".md": parse_markdown,
    ".markdown": parse_markdown,
    ".html": parse_html,
    ".htm": parse_html,
    ".docx": parse_docx,
    ".pdf": parse_pdf,
}
SUPPORTED_SUFFIXES = frozenset(PARSERS)


def parse_file(source: str, data: bytes) -> ParsedFile:
    """Parse ``data`` by the suffix of ``source``; raises ParseError with a user-facing reason."""
    suffix = "." + source.rsplit(".", 1)[-1].lower() if "." in source else ""
    parser = PARSERS.get(suffix)
    if parser is None:
        raise ParseError(f"unsupported file type {suffix or '(none)'}")
    if not data.strip():
        raise ParseError("empty file")
    return parser(source, data)
