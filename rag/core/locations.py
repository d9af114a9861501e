"""Where a chunk's words are on its page: one box per character of a page's text (``PageLayout``,
made at ingest by ``foldrag.ingest.formats.pdf_layout``), and a chunk's sentences (``Span``) with
their boxes merged by line (``PageBoxes``), stored with the chunk. Coordinates are PDF points from
the top left of the page's crop box (what a renderer draws), with the page's size beside them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# A sentence ends at . ! ? 。 (다. in Korean) followed by space, at a blank line, before a line of its
# own, or after a table row; any other line break is a PDF's line wrap, inside the sentence.
# What starts a line of its own: a heading, a list item, a quote, a table row.
BLOCK_START = r"[ \t]*(?:#+\s|[-*+]\s|\d+[.)]\s|>|\|)"
# The marks that open a heading, list item or quote line, to strip from its text.
LINE_MARKUP = re.compile(r"^\s*(?:#+|[-*+]|\d+[.)]|>)\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?。])\s+|\n[ \t]*\n\s*|\n(?=" + BLOCK_START + r")|(?<=\|)[ \t]*\n")

Box = tuple[float, float, float, float]  # x0, y0 (top), x1, y1 (bottom), in points from the top left


@dataclass(frozen=True)
class PageBoxes:
    """A chunk's rectangles on one page."""

    page: int  # from 1
    width: float  # the page's size in points
    height: float
    boxes: tuple[Box, ...]

    def to_json(self) -> dict[str, Any]:
        return {"page": self.page, "width": round(self.width, 2), "height": round(self.height, 2),
                "boxes": [[round(v, 2) for v in box] for box in self.boxes]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "PageBoxes":
        return cls(page=int(data["page"]), width=float(data["width"]), height=float(data["height"]),
                   boxes=tuple(tuple(float(v) for v in box) for box in data["boxes"]))


@dataclass(frozen=True)
class Span:
    """A sentence of a chunk: its characters ``start:end`` in the chunk's text, and where they are
    on the page (nothing for a chunk without a layout: the text formats, or an image file)."""

    start: int
    end: int
    boxes: tuple[PageBoxes, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "boxes": [b.to_json() for b in self.boxes]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Span":
        return cls(int(data["start"]), int(data["end"]), tuple(PageBoxes.from_json(b) for b in data["boxes"]))


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """The sentences of ``text`` as ``(start, end)``, whitespace between them left out."""
    spans, at = [], 0
    for match in _SENTENCE_END.finditer(text):
        if text[at:match.start()].strip():
            spans.append((at, match.start()))
        at = match.end()
    if text[at:].strip():
        spans.append((at, len(text.rstrip())))
    return spans


@dataclass(frozen=True)
class PageLayout:
    """One box (or None) for each character of a page's section text."""

    page: int
    width: float
    height: float
    chars: tuple[Box | None, ...]

    def boxes(self, start: int, end: int) -> PageBoxes | None:
        """The rectangles of the characters ``start:end``, merged by line; None when none has a box."""
        rects: list[list[float]] = []
        for box in self.chars[max(0, start):max(0, end)]:
            if box is None:
                continue
            last = rects[-1] if rects else None
            if last is not None and _same_line(last, box):
                last[0], last[1] = min(last[0], box[0]), min(last[1], box[1])
                last[2], last[3] = max(last[2], box[2]), max(last[3], box[3])
            else:
                rects.append(list(box))
        if not rects:
            return None
        return PageBoxes(self.page, self.width, self.height, tuple(tuple(r) for r in rects))



@dataclass(frozen=True)
class SectionLayout:
    """The layouts of the pages a section's text runs over: ``(offset, layout)``, the offset where
    that page's text starts in the section's text, in page order."""

    pages: tuple[tuple[int, PageLayout], ...]

    def page_at(self, offset: int) -> int:
        """The page the section's character ``offset`` is on."""
        page = self.pages[0][1].page
        for start, layout in self.pages:
            if start > offset:
                break
            page = layout.page
        return page

    def boxes(self, start: int, end: int) -> tuple[PageBoxes, ...]:
        """The rectangles of characters ``start:end`` of the section, on every page they run over."""
        out = []
        for offset, layout in self.pages:
            if offset < end and start < offset + len(layout.chars):
                where = layout.boxes(start - offset, end - offset)
                if where is not None:
                    out.append(where)
        return tuple(out)

    def spans(self, text: str, start: int) -> tuple[Span, ...]:
        """The sentences of ``text`` (a chunk starting at offset ``start`` of the section) with their boxes."""
        return tuple(Span(a, b, self.boxes(start + a, start + b)) for a, b in sentence_spans(text))


def join_pages(first: SectionLayout, first_length: int, gap: int, second: SectionLayout) -> SectionLayout:
    """The layout of two sections' texts joined by ``gap`` characters (``first_length``: the first's length)."""
    return SectionLayout(first.pages + tuple((offset + first_length + gap, layout) for offset, layout in second.pages))


def _same_line(rect: list[float], box: Box) -> bool:
    """Whether ``box`` continues the line run ``rect``: most of their heights overlap and it starts
    at most a few character heights to the right of where the run ends (a column gap, a table cell
    far away or a wrapped line starts a new rectangle)."""
    top, bottom = max(rect[1], box[1]), min(rect[3], box[3])
    height = min(rect[3] - rect[1], box[3] - box[1])
    if height <= 0 or bottom - top < 0.5 * height:
        return False
    return rect[0] - 0.5 * height <= box[0] <= rect[2] + 3.0 * height
