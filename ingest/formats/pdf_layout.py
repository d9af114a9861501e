"""A PDF page's ``PageLayout``: its section text aligned with pdfium's own characters and their boxes
(pdfium also renders the page, so boxes and pixels agree) — or, for a scanned page, with the words
OCR read and their boxes on the page image.

A page's text (pypdf's text layer, tidied, tables as Markdown) is not pdfium's character stream, so
the two are aligned on their visible characters (``difflib``'s matching blocks, whitespace left out):
a character of the section text gets the box of the pdfium character it matched; a Markdown pipe or
a character pdfium spelled differently gets none. Computed at ingest, never matched at view time.
"""

from __future__ import annotations

import difflib
import unicodedata

from foldrag.core.locations import Box, PageLayout


def _visible(text: str) -> tuple[str, list[int]]:
    """The characters of ``text`` that are not whitespace (compatibility-folded, so a ligature 'ﬁ'
    in one stream meets 'fi' in the other only by its first letter, not by luck), and their offsets."""
    chars, offsets = [], []
    for i, ch in enumerate(text):
        if ch.isspace():
            continue
        folded = unicodedata.normalize("NFKC", ch)
        chars.append(folded[:1] or ch)
        offsets.append(i)
    return "".join(chars), offsets


def page_layout(page, number: int, text: str) -> PageLayout | None:
    """The layout of ``text`` (the section text of pdfium page ``page``, number ``number``); None when
    the page has no text layer to align with."""
    import pypdfium2.raw as pdfium_c

    textpage = page.get_textpage()
    try:
        count = textpage.count_chars()
        if count <= 0:
            return None
        left, bottom, right, top = page.get_bbox()  # the crop box as pdfium renders it (get_cropbox
        # falls back to a US-letter default when the file names no box)
        pdf_chars, pdf_boxes = [], []
        for i in range(count):
            code = pdfium_c.FPDFText_GetUnicode(textpage.raw, i)
            ch = chr(code) if 0 < code < 0x110000 else ""
            if not ch or ch.isspace():
                continue
            x0, y0, x1, y1 = textpage.get_charbox(i, loose=True)
            if x1 <= x0 or y1 <= y0:
                continue  # generated characters (line ends pdfium adds) have no area
            folded = unicodedata.normalize("NFKC", ch)
            pdf_chars.append(folded[:1] or ch)
            pdf_boxes.append((x0 - left, top - y1, x1 - left, top - y0))
    finally:
        textpage.close()
    return align(number, float(right - left), float(top - bottom), text, "".join(pdf_chars), pdf_boxes)


def align(number: int, width: float, height: float, text: str, chars: str, char_boxes: list[Box]) -> PageLayout:
    """``text``'s characters given the boxes of the characters ``chars`` (whitespace left out) that
    they match, in order; the others get none."""
    visible, offsets = _visible(text)
    boxes: list[Box | None] = [None] * len(text)
    matcher = difflib.SequenceMatcher(None, visible, chars, autojunk=False)
    for a, b, size in matcher.get_matching_blocks():
        for k in range(size):
            boxes[offsets[a + k]] = char_boxes[b + k]
    return PageLayout(number, width, height, tuple(boxes))


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
