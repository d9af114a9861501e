"""A PDF page's ``PageLayout``: its section text aligned with pdfium's own characters and their boxes
(pdfium also renders the page, so boxes and pixels agree) — or, for a scanned page, with the words
OCR read and their boxes on the page image.

A page's text (pypdf's text layer, tidied, tables as Markdown) is not pdfium's character stream, so
the two are aligned on their visible characters (whitespace left out): in step while they agree,
and where they part, on again at the nearest place where the next few characters of one occur in
the other (a Markdown pipe, a character pdfium spells differently, a table read in another order).
A character of the section text gets the box of the pdfium character it matched; the others none.
Linear in the page's length (difflib's matching blocks, tried first, took 53 ms a page, six times
the rest of the page's parse). Computed at ingest, never matched at view time.
"""

from __future__ import annotations

import re
import struct
import unicodedata

from foldrag.core.locations import Box, PageLayout


_INVISIBLE = re.compile(r"[\s|]")  # whitespace, and a Markdown table's pipes (never drawn)
_VISIBLE = re.compile(r"[^\s|]")


def _visible(text: str) -> tuple[str, list[int]]:
    """The characters of ``text`` that were drawn (no whitespace, no Markdown table pipes), beyond
    ASCII compatibility-folded (a ligature 'ﬁ' in one stream meets 'fi' in the other by its first
    letter), and their offsets."""
    offsets = [m.start() for m in _VISIBLE.finditer(text)]
    chars = _INVISIBLE.sub("", text)
    if not chars.isascii():
        chars = "".join(ch if ch < "\x80" else (unicodedata.normalize("NFKC", ch)[:1] or ch) for ch in chars)
    return chars, offsets


def page_layout(page, number: int, text: str) -> PageLayout | None:
    """The layout of ``text`` (the section text of pdfium page ``page``, number ``number``); None when
    the page has no text layer to align with."""
    import ctypes

    import pypdfium2.raw as pdfium_c

    textpage = page.get_textpage()
    try:
        count = textpage.count_chars()
        if count <= 0:
            return None
        left, bottom, right, top = page.get_bbox()  # the crop box as pdfium renders it (get_cropbox
        # falls back to a US-letter default when the file names no box)
        raw, get_box = textpage.raw, pdfium_c.FPDFText_GetLooseCharBox
        stream = textpage.get_text_range(0, count)  # one call; a character per index, but for
        if len(stream) != count:  # characters beyond the BMP (two UTF-16 units): asked one by one
            stream = "".join(chr(c) if 0 < (c := pdfium_c.FPDFText_GetUnicode(raw, i)) < 0x110000 else "\0"
                             for i in range(count))
        rect = pdfium_c.FS_RECTF()
        at = ctypes.byref(rect)
        read = _RECT.unpack_from  # FS_RECTF: left, top, right, bottom
        pdf_chars, pdf_boxes = [], []
        for i, ch in enumerate(stream):  # raw calls with one reused rectangle
            if ch <= " " or ch.isspace() or not get_box(raw, i, at):
                continue
            x0, y1, x1, y0 = read(rect)
            if x1 <= x0 or y1 <= y0:
                continue  # generated characters (line ends pdfium adds) have no area
            if ch >= "\x80":
                ch = unicodedata.normalize("NFKC", ch)[:1] or ch
            pdf_chars.append(ch)
            pdf_boxes.append((x0 - left, top - y1, x1 - left, top - y0))
    finally:
        textpage.close()
    return align(number, float(right - left), float(top - bottom), text, "".join(pdf_chars), pdf_boxes)


def align(number: int, width: float, height: float, text: str, chars: str, char_boxes: list[Box]) -> PageLayout:
    """``text``'s characters given the boxes of the characters ``chars`` (whitespace left out) that
    they match, in order; the others get none."""
    visible, offsets = _visible(text)
    boxes: list[Box | None] = [None] * len(text)
    for a, b in _pairs(visible, chars):
        boxes[offsets[a]] = char_boxes[b]
    return PageLayout(number, width, height, tuple(boxes))


_RECT = struct.Struct("4f")
ANCHORS = (6, 3)  # characters that must agree to take up the alignment again, longest first
WINDOW = 400  # how far ahead (in either stream) the next agreement is looked for


def _pairs(a: str, b: str):
    """Positions ``(i, j)`` with ``a[i] == b[j]``, increasing in both: runs where the streams agree,
    the smaller skip of either stream where they part."""
    i = j = 0
    n, m = len(a), len(b)
    while i < n and j < m:
        if a[i] == b[j]:
            yield i, j
            i += 1
            j += 1
            continue
        for anchor in ANCHORS:  # a long agreement first; a short one (a table cell) next
            k = min(anchor, n - i, m - j)
            in_b = b.find(a[i:i + k], j, j + WINDOW + k)  # b has extra characters here
            in_a = a.find(b[j:j + k], i, i + WINDOW + k)  # a has extra characters here
            skip_b = in_b - j if in_b >= 0 else None
            skip_a = in_a - i if in_a >= 0 else None
            if skip_b is not None and (skip_a is None or skip_b <= skip_a):
                j = in_b
                break
            if skip_a is not None:
                i = in_a
                break
        else:  # no agreement near: both characters differ (a letter read otherwise)
            i += 1
            j += 1


def ocr_layout(number: int, width: float, height: float, text: str, words: list[tuple[str, Box]]) -> PageLayout:
    """The layout of OCR'd ``text`` from the words OCR read with their boxes (points): a word's box
    is shared out across its characters by equal widths."""
    chars, boxes = [], []
    for word, (x0, y0, x1, y1) in words:
        visible, _ = _visible(word)
        step = (x1 - x0) / max(1, len(visible))
        for i, ch in enumerate(visible):
            chars.append(ch)
            boxes.append((x0 + i * step, y0, x0 + (i + 1) * step, y1))
    return align(number, width, height, text, "".join(chars), boxes)
