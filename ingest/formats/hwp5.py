"""HWP 5.x (한글 97–2022 binary documents): body text in reading order, outline headings, tables as
Markdown, footnotes and endnotes.

The format is an OLE2 compound file (read with ``olefile``): ``FileHeader`` holds the flags
(compressed, password, distribution), ``DocInfo`` the styles, ``BodyText/SectionN`` the text as a
stream of tagged records, raw-deflate compressed when the header says so. A record's level nests
it: a paragraph's text and controls sit one level below its header, a table's cells (a list header
followed by that cell's paragraphs) one level below the table's control. Written from Hancom's
published format description (HWP 5.0 revision 1.3); no code from other readers.
"""

from __future__ import annotations

import io
import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from foldrag.ingest.errors import ParseError
from foldrag.ingest.formats.headings import Para, plain, render
from foldrag.ingest.formats.tables import markdown_table

_SIGNATURE = b"HWP Document File"
_COMPRESSED, _PASSWORD, _DISTRIBUTION, _DRM = 0x01, 0x02, 0x04, 0x10

_BEGIN = 0x10
TAG_CHAR_SHAPE = _BEGIN + 5
TAG_STYLE = _BEGIN + 26
TAG_PARA_HEADER = _BEGIN + 50
TAG_PARA_TEXT = _BEGIN + 51
TAG_PARA_CHAR_SHAPE = _BEGIN + 52
TAG_CTRL_HEADER = _BEGIN + 55
TAG_LIST_HEADER = _BEGIN + 56
TAG_TABLE = _BEGIN + 61

# Characters below 32 are controls: these take one code unit, every other one takes eight.
_ONE_UNIT = {0, 10, 13} | set(range(24, 32))
_CHAR_FOR = {9: "\t", 10: "\n", 24: "-", 30: " ", 31: " "}
_NOTES = {b"fn  ": "각주", b"en  ": "미주"}
_SKIPPED_CONTROLS = {b"head", b"foot", b"pghd", b"pgnp", b"pgct", b"tcmt", b"tdut", b"secd", b"cold"}
_OUTLINE = re.compile(r"^(?:개요|Outline)\s*(\d+)$")


@dataclass
class Record:
    tag: int
    level: int
    data: bytes
    children: list[Record] = field(default_factory=list)


def records(data: bytes) -> Iterator[tuple[int, int, bytes]]:
    """(tag, level, payload) of every record in a decompressed stream."""
    at = 0
    while at + 4 <= len(data):
        (head,) = struct.unpack_from("<I", data, at)
        at += 4
        tag, level, size = head & 0x3FF, (head >> 10) & 0x3FF, head >> 20
        if size == 0xFFF:
            if at + 4 > len(data):
                raise ParseError("corrupt HWP: a record is cut short")
            (size,) = struct.unpack_from("<I", data, at)
            at += 4
        if at + size > len(data):
            raise ParseError("corrupt HWP: a record is cut short")
        yield tag, level, data[at : at + size]
        at += size


def record_tree(data: bytes) -> list[Record]:
    """The records of a stream as a forest: each record holds the deeper ones that follow it."""
    roots: list[Record] = []
    stack: list[Record] = []
    for tag, level, payload in records(data):
        node = Record(tag, level, payload)
        while stack and stack[-1].level >= level:
            stack.pop()
        (stack[-1].children if stack else roots).append(node)
        stack.append(node)
    return roots


def paragraph_text(payload: bytes) -> str:
    """The visible text of a PARA_TEXT record: inline and extended controls dropped, tabs and line
    breaks kept."""
    units = struct.unpack(f"<{len(payload) // 2}H", payload[: len(payload) // 2 * 2])
    out: list[str] = []
    at = 0
    while at < len(units):
        code = units[at]
        if code >= 32:
            out.append(chr(code))
            at += 1
            continue
        out.append(_CHAR_FOR.get(code, ""))
        at += 1 if code in _ONE_UNIT else 8
    text = "".join(out)
    # Surrogate pairs arrive as two code units; join them back into one character.
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _ctrl_id(payload: bytes) -> bytes:
    return payload[:4][::-1] if len(payload) >= 4 else b""


def _char_sizes(docinfo: bytes) -> list[int]:
    """Base type size (1/100 pt) of each character shape, by id."""
    sizes = []
    for tag, _level, payload in records(docinfo):
        if tag == TAG_CHAR_SHAPE:
            sizes.append(struct.unpack_from("<i", payload, 42)[0] if len(payload) >= 46 else 0)
    return sizes


def _dominant_shape(node: Record) -> int | None:
    """The character shape id that covers most of a paragraph."""
    total = struct.unpack_from("<I", node.data, 0)[0] & 0x7FFFFFFF if len(node.data) >= 4 else 0
    for child in node.children:
        if child.tag == TAG_PARA_CHAR_SHAPE and len(child.data) >= 8:
            runs = [struct.unpack_from("<II", child.data, at) for at in range(0, len(child.data) - 7, 8)]
            ends = [start for start, _ in runs[1:]] + [max(total, runs[-1][0] + 1)]
            return max(zip(runs, ends, strict=True), key=lambda r: r[1] - r[0][0])[0][1]
    return None


def _style_levels(docinfo: bytes) -> dict[int, int]:
    """Style id → heading level for the outline styles (개요 1…7 / Outline 1…7)."""
    levels: dict[int, int] = {}
    style_id = 0
    for tag, _level, payload in records(docinfo):
        if tag != TAG_STYLE:
            continue
        names = []
        at = 0
        for _ in range(2):  # local name, then English name: WORD length + UTF-16LE
            if at + 2 > len(payload):
                break
            (length,) = struct.unpack_from("<H", payload, at)
            names.append(payload[at + 2 : at + 2 + 2 * length].decode("utf-16-le", "replace"))
            at += 2 + 2 * length
        for name in names:
            match = _OUTLINE.match(name.strip())
            if match:
                levels[style_id] = int(match.group(1))
                break
        style_id += 1
    return levels


class _Writer:
    """Walks a section's record forest; paragraphs become ``Para`` (headings are decided once the
    whole document is read), tables and notes text."""

    def __init__(self, heading_levels: dict[int, int], char_sizes: list[int] | None = None) -> None:
        self.heading_levels = heading_levels
        self.char_sizes = char_sizes or []
        self.notes: list[str] = []

    def paragraphs(self, nodes: list[Record]) -> list[str | Para]:
        return [block for node in nodes if node.tag == TAG_PARA_HEADER for block in self.paragraph(node)]

    def paragraph(self, node: Record) -> list[str | Para]:
        text = "".join(paragraph_text(c.data) for c in node.children if c.tag == TAG_PARA_TEXT).strip()
        style = node.data[10] if len(node.data) > 10 else 0
        blocks: list[str | Para] = []
        if text:
            shape = _dominant_shape(node)
            size = self.char_sizes[shape] if shape is not None and shape < len(self.char_sizes) else None
            blocks.append(Para(text, self.heading_levels.get(style), size or None))
        for child in node.children:
            if child.tag == TAG_CTRL_HEADER:
                blocks.extend(self.control(child))
        return blocks

    def control(self, node: Record) -> list[str | Para]:
        kind = _ctrl_id(node.data)
        if kind in _SKIPPED_CONTROLS:
            return []
        if kind == b"tbl ":
            table = self.table(node)
            return [table] if table else []
        if kind in _NOTES:
            body = " ".join(plain(b) for b in self.list_text(node.children))
            if body:
                self.notes.append(f"{_NOTES[kind]} {len(self.notes) + 1}: {body}")
            return []
        # Text boxes and other drawing objects: whatever paragraphs they hold, in order.
        return self.list_text(node.children)

    def list_text(self, nodes: list[Record]) -> list[str | Para]:
        blocks: list[str | Para] = []
        for node in nodes:
            if node.tag == TAG_PARA_HEADER:
                blocks.extend(self.paragraph(node))
            elif node.tag != TAG_TABLE:
                blocks.extend(self.list_text(node.children))
        return blocks

    def table(self, node: Record) -> str:
        cells: dict[tuple[int, int], list[str]] = {}
        current: list[str] | None = None
        for child in node.children:
            if child.tag == TAG_LIST_HEADER:
                if len(child.data) < 16:
                    current = None
                    continue
                col, row = struct.unpack_from("<HH", child.data, 8)
                current = cells.setdefault((row, col), [])
            elif child.tag == TAG_PARA_HEADER and current is not None:
                current.extend(plain(b) for b in self.paragraph(child))
        if not cells:
            return ""
        rows = 1 + max(r for r, _ in cells)
        cols = 1 + max(c for _, c in cells)
        grid = [[" ".join(cells.get((r, c), [])) for c in range(cols)] for r in range(rows)]
        return markdown_table(grid)


def _stream(ole, name: str, compressed: bool) -> bytes:
    raw = ole.openstream(name).read()
    if not compressed:
        return raw
    try:
        return zlib.decompressobj(-15).decompress(raw)
    except zlib.error as exc:
        raise ParseError(f"corrupt HWP: {name} does not decompress ({exc})") from exc


def _section_names(ole) -> list[str]:
    found = [e for e in ole.listdir() if len(e) == 2 and e[0] == "BodyText" and e[1].startswith("Section")]
    numbered = sorted(found, key=lambda e: int(e[1][7:]) if e[1][7:].isdigit() else 1 << 30)
    return ["/".join(e) for e in numbered]


def read_hwp5(data: bytes) -> list[str]:
    """The sections of an HWP 5.x file as Markdown-like texts. ParseError on a file that is
    damaged, not HWP 5, or protected. (The title comes from the first heading: the summary
    property set's strings are not read.)"""
    import olefile

    if not olefile.isOleFile(io.BytesIO(data)):
        raise ParseError("not an HWP 5 file (no OLE2 header; HWP 3.x and older are not read)")
    try:
        ole = olefile.OleFileIO(io.BytesIO(data))
    except Exception as exc:  # olefile raises OSError and struct errors for damaged containers
        raise ParseError(f"corrupt HWP: {type(exc).__name__}") from exc
    with ole:
        if not ole.exists("FileHeader"):
            raise ParseError("not an HWP 5 file (no FileHeader stream)")
        header = ole.openstream("FileHeader").read()
        if not header.startswith(_SIGNATURE) or len(header) < 40:
            raise ParseError("not an HWP 5 file (bad FileHeader signature)")
        (flags,) = struct.unpack_from("<I", header, 36)
        if flags & _PASSWORD:
            raise ParseError("password-protected HWP (암호 문서): its text is encrypted")
        if flags & _DISTRIBUTION:
            raise ParseError("distribution-protected HWP (배포용 문서): its text is encrypted")
        if flags & _DRM:
            raise ParseError("DRM-protected HWP: its text is encrypted")
        compressed = bool(flags & _COMPRESSED)
        docinfo = _stream(ole, "DocInfo", compressed) if ole.exists("DocInfo") else b""
        writer = _Writer(_style_levels(docinfo), _char_sizes(docinfo))
        parts = [writer.paragraphs(record_tree(_stream(ole, name, compressed))) for name in _section_names(ole)]
        return join_sections(parts, writer.notes)


def join_sections(parts: list[list[str | Para]], notes: list[str]) -> list[str]:
    """Each section's blocks as one text, headings decided over the whole document, notes last."""
    rendered = render([block for part in parts for block in part])
    sections, at = [], 0
    for part in parts:
        sections.append("\n\n".join(rendered[at : at + len(part)]))
        at += len(part)
    if notes and sections:
        sections[-1] = "\n\n".join(filter(None, [sections[-1], *notes]))
    return sections
