"""HWPX (한글 2014+, OWPML): a zip of XML parts. Sections in the package's reading order, outline
headings from the style table, tables as Markdown, footnotes and endnotes after the body.

Parsed with the standard library (expat guards against entity expansion); the members read are
capped in size so a zip bomb is refused rather than inflated.
"""

from __future__ import annotations

import io
import re
import zipfile
from xml.etree import ElementTree

from foldrag.ingest.errors import ParseError
from foldrag.ingest.formats.archive import check_zip
from foldrag.ingest.formats.headings import Para, plain
from foldrag.ingest.formats.hwp5 import join_sections
from foldrag.ingest.formats.tables import markdown_table

_P = "{http://www.hancom.co.kr/hwpml/2011/paragraph}"
_H = "{http://www.hancom.co.kr/hwpml/2011/head}"
_OPF = "{http://www.idpf.org/2007/opf/}"
_OUTLINE = re.compile(r"^(?:개요|Outline)\s*(\d+)$")
_SECTION = re.compile(r"^Contents/section(\d+)\.xml$")
MAX_PART_BYTES = 256 << 20
_NOTES = {"footNote": "각주", "endNote": "미주"}
_SKIPPED = {"header", "footer", "secPr", "colPr", "pageNum", "pageHiding", "fieldBegin", "fieldEnd"}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml(archive: zipfile.ZipFile, name: str) -> ElementTree.Element:
    info = archive.getinfo(name)
    if info.file_size > MAX_PART_BYTES:
        raise ParseError(f"HWPX part {name} is too large ({info.file_size / 1e6:.0f} MB unpacked)")
    try:
        return ElementTree.fromstring(archive.read(name))
    except ElementTree.ParseError as exc:
        raise ParseError(f"corrupt HWPX: {name} is not well-formed XML ({exc})") from exc


def _header(archive: zipfile.ZipFile) -> tuple[dict[str, int], dict[str, int]]:
    """Style id → outline level, and character property id → type height (1/100 pt)."""
    if "Contents/header.xml" not in archive.namelist():
        return {}, {}
    header = _xml(archive, "Contents/header.xml")
    heights = {c.get("id", ""): int(c.get("height", "0") or 0) for c in header.iter(f"{_H}charPr")
               if (c.get("height", "") or "").isdigit()}
    levels: dict[str, int] = {}
    for style in header.iter(f"{_H}style"):
        for name in (style.get("name", ""), style.get("engName", "")):
            match = _OUTLINE.match(name.strip())
            if match:
                levels[style.get("id", "")] = int(match.group(1))
                break
    return levels, heights


def _section_order(archive: zipfile.ZipFile, package: ElementTree.Element | None) -> list[str]:
    """The section parts in the package's reading order (``package``: content.hpf), else by number."""
    names = set(archive.namelist())
    ordered: list[str] = []
    if package is not None:
        hrefs = {i.get("id"): i.get("href", "") for i in package.iter(f"{_OPF}item")}
        for ref in package.iter(f"{_OPF}itemref"):
            href = hrefs.get(ref.get("idref"), "")
            if _SECTION.match(href) and href in names:
                ordered.append(href)
    if not ordered:
        found = [n for n in names if _SECTION.match(n)]
        ordered = sorted(found, key=lambda n: int(_SECTION.match(n).group(1)))
    return ordered


class _Writer:
    def __init__(self, heading_levels: dict[str, int], heights: dict[str, int]) -> None:
        self.heading_levels = heading_levels
        self.heights = heights
        self.notes: list[str] = []

    def paragraph(self, p: ElementTree.Element) -> list[str | Para]:
        text: list[str] = []
        blocks: list[str | Para] = []
        sizes: dict[int, int] = {}
        for run in p.findall(f"{_P}run"):
            before = sum(len(t) for t in text)
            for item in run:
                self.run_item(item, text, blocks)
            height = self.heights.get(run.get("charPrIDRef", ""))
            if height:
                sizes[height] = sizes.get(height, 0) + sum(len(t) for t in text) - before
        line = "".join(text).strip()
        if not line:
            return blocks
        size = max(sizes, key=sizes.__getitem__) if sizes else None
        return [Para(line, self.heading_levels.get(p.get("styleIDRef", "")), size), *blocks]

    def run_item(self, item: ElementTree.Element, text: list[str], blocks: list[str | Para]) -> None:
        name = _local(item.tag)
        if name == "t":
            text.append(item.text or "")
            for child in item:
                text.append({"tab": "\t", "lineBreak": "\n"}.get(_local(child.tag), ""))
                text.append(child.tail or "")
        elif name == "tbl":
            table = self.table(item)
            if table:
                blocks.append(table)
        elif name == "ctrl":
            for control in item:
                kind = _local(control.tag)
                if kind in _NOTES:
                    body = " ".join(plain(b) for b in self.sublists(control))
                    if body:
                        self.notes.append(f"{_NOTES[kind]} {len(self.notes) + 1}: {body}")
        elif name not in _SKIPPED:
            blocks.extend(self.sublists(item))  # text boxes inside drawing objects

    def sublists(self, element: ElementTree.Element) -> list[str | Para]:
        blocks: list[str | Para] = []
        for sub in element.iter(f"{_P}subList"):
            for p in sub.findall(f"{_P}p"):
                blocks.extend(self.paragraph(p))
        return blocks

    def table(self, tbl: ElementTree.Element) -> str:
        cells: dict[tuple[int, int], str] = {}
        for row_index, tr in enumerate(tbl.findall(f"{_P}tr")):
            for col_index, tc in enumerate(tr.findall(f"{_P}tc")):
                addr = tc.find(f"{_P}cellAddr")
                row = int(addr.get("rowAddr", row_index)) if addr is not None else row_index
                col = int(addr.get("colAddr", col_index)) if addr is not None else col_index
                parts = []
                for sub in tc.findall(f"{_P}subList"):
                    for p in sub.findall(f"{_P}p"):
                        parts.extend(plain(b) for b in self.paragraph(p))
                cells[(row, col)] = " ".join(parts)
        if not cells:
            return ""
        rows = 1 + max(r for r, _ in cells)
        cols = 1 + max(c for _, c in cells)
        return markdown_table([[cells.get((r, c), "") for c in range(cols)] for r in range(rows)])


def read_hwpx(data: bytes) -> tuple[list[str], str | None]:
    """The sections of an HWPX file as Markdown-like texts, and its title; ParseError otherwise."""
    check_zip(data, "HWPX")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise ParseError(f"corrupt HWPX: not a zip archive ({exc})") from exc
    with archive:
        names = set(archive.namelist())
        if "META-INF/manifest.xml" in names and b"encryption-data" in archive.read("META-INF/manifest.xml"):
            raise ParseError("password-protected HWPX: its parts are encrypted")
        package = _xml(archive, "Contents/content.hpf") if "Contents/content.hpf" in names else None
        order = _section_order(archive, package)
        if not order:
            raise ParseError("not an HWPX file (no Contents/section*.xml)")
        writer = _Writer(*_header(archive))
        parts = []
        try:
            for name in order:
                root = _xml(archive, name)
                parts.append([b for p in root.findall(f"{_P}p") for b in writer.paragraph(p)])
        except (zipfile.BadZipFile, KeyError, EOFError, OSError) as exc:
            raise ParseError(f"corrupt HWPX: {type(exc).__name__}") from exc
        sections = join_sections(parts, writer.notes)
        element = package.find(f".//{_OPF}title") if package is not None else None
        title = (element.text or "").strip() or None if element is not None else None
        return sections, title
