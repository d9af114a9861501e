"""PDF pages: the text layer (pypdf), tables as Markdown in reading position (pdfplumber's table
finder), and OCR (pdfium renders, an ``OcrEngine`` reads) for pages whose text layer is missing or
too thin for their area. One section per page, numbered from 1; OCR'd sections are marked.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from foldrag.ingest.errors import ParseError
from foldrag.ingest.formats.ocr import OcrEngine, OcrImage, OcrPage, ocr_image
from foldrag.ingest.formats.pdf_layout import ocr_layout, page_layout
from foldrag.ingest.formats.tables import markdown_table
from foldrag.core.locations import SectionLayout
from foldrag.core.types import Section

log = logging.getLogger("foldrag.ingest")

A4_POINTS2 = 595.0 * 842.0
# An image-bearing page with fewer visible characters than this per A4 of area is treated as a
# scan: a typed A4 page holds 1,500-3,000, a slide title or a figure caption a few dozen.
OCR_MIN_CHARS_PER_A4 = 40


@dataclass(frozen=True)
class PdfOptions:
    ocr: str = "auto"  # auto | always | off
    ocr_dpi: int = 300
    tables: bool = True
    ocr_workers: int = 2  # OCR processes at once
    report: Callable[[str], None] | None = field(default=None, compare=False)  # "OCR: 3 of 12 pages read"


def wants_ocr(mode: str, text: str, area_points2: float, has_image: bool) -> bool:
    """Whether a page is OCR'd: always in 'always'; in 'auto' when it holds an image and its text
    layer is too thin for its area; never in 'off'."""
    if mode == "always":
        return True
    if mode != "auto" or not has_image:
        return False
    visible = sum(1 for ch in text if not ch.isspace())
    return visible < OCR_MIN_CHARS_PER_A4 * max(area_points2, 1.0) / A4_POINTS2


def page_with_tables(page) -> str | None:
    """The text of a pdfplumber page with its tables as Markdown in reading order, or None when it
    has no table."""
    tables = [t for t in page.find_tables() if len(t.rows) >= 2]
    if not tables:
        return None
    outside = page
    for table in tables:
        outside = outside.outside_bbox(table.bbox)
    blocks: list[tuple[float, str]] = []
    for line in outside.extract_text_lines():
        blocks.append((line["top"], line["text"]))
    for table in tables:
        text = markdown_table(table.extract())
        if text:
            blocks.append((table.bbox[1], "\n" + text + "\n"))
    blocks.sort(key=lambda b: b[0])
    return "\n".join(text for _, text in blocks)


class _Pages:
    """Lazily opened second readers: pdfplumber for tables, pdfium for images and rendering."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._plumber = None
        self._pdfium = None

    def plumber(self, index: int):
        if self._plumber is None:
            import pdfplumber

            self._plumber = pdfplumber.open(io.BytesIO(self.data))
        return self._plumber.pages[index]

    def pdfium(self, index: int):
        if self._pdfium is None:
            import pypdfium2

            self._pdfium = pypdfium2.PdfDocument(self.data)
        return self._pdfium[index]

    def has_image(self, index: int) -> bool:
        import pypdfium2.raw as pdfium_c

        return self._has(index, pdfium_c.FPDF_PAGEOBJ_IMAGE)

    def has_paths(self, index: int) -> bool:
        """Whether the page draws any line or rectangle: a ruled table needs some, and pdfium tells
        in a millisecond what pdfplumber's table finder takes ~0.1 s a page to find out."""
        import pypdfium2.raw as pdfium_c

        return self._has(index, pdfium_c.FPDF_PAGEOBJ_PATH)

    def _has(self, index: int, kind: int) -> bool:
        return any(True for _ in self.pdfium(index).get_objects(filter=[kind], max_depth=3))

    def render_for_ocr(self, index: int, dpi: int) -> OcrImage:
        bitmap = self.pdfium(index).render(scale=dpi / 72.0, grayscale=True)
        return ocr_image(bitmap.to_pil())

    def size(self, index: int) -> tuple[float, float]:
        left, bottom, right, top = self.pdfium(index).get_bbox()
        return float(right - left), float(top - bottom)

    def close(self) -> None:
        if self._plumber is not None:
            self._plumber.close()
        if self._pdfium is not None:
            self._pdfium.close()


class _OcrCount:
    """Tells ``report`` each time an OCR'd page is read (from the OCR threads)."""

    def __init__(self, report: Callable[[str], None] | None, pages: int) -> None:
        self.report, self.pages = report, pages
        self.read = 0
        self._lock = threading.Lock()

    def done(self, _future) -> None:
        with self._lock:  # told in order (``report`` never blocks)
            self.read += 1
            if self.report is not None:
                self.report(f"OCR: {self.read} of {self.pages} pages read")


def read_pdf(data: bytes, tidy: Callable[[str], str], options: PdfOptions,
             ocr: Callable[[], OcrEngine | str], *,
             tables: Callable[[object], str | None] = page_with_tables) -> tuple[list[Section], str | None]:
    """The pages of a PDF as sections, and its title. ``ocr`` gives the engine, or the reason there
    is none (asked only when a page needs it). Pages are rendered in order and read by
    ``options.ocr_workers`` OCR processes at once (at most twice that many images held); text layers
    are read first, so progress counts the pages OCR reads, not all pages. ``tables`` reads a
    pdfplumber page that may hold a ruled table (``page_with_tables``; tests watch which pages)."""
    from concurrent.futures import Future, ThreadPoolExecutor

    from pypdf import PdfReader

    pages = _Pages(data)
    slots: list[tuple[int, str, Future | None, OcrImage | None]] = []  # page index, text layer, OCR, its image
    skipped_ocr: str | None = None
    pool = ThreadPoolExecutor(max_workers=options.ocr_workers, thread_name_prefix="foldrag-ocr")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ParseError("encrypted PDF (needs a password)")
        engine: OcrEngine | str | None = None
        wanted: list[tuple[int, str, bool]] = []  # page index, its text layer, whether OCR reads it
        for index, page in enumerate(reader.pages):
            text = tidy(page.extract_text() or "")
            box = page.mediabox
            area = abs(float(box.width) * float(box.height))
            needs = options.ocr != "off" and wants_ocr(options.ocr, text, area,
                                                       options.ocr == "always" or pages.has_image(index))
            if needs:
                engine = ocr() if engine is None else engine
                if isinstance(engine, str):
                    skipped_ocr, needs = engine, False
            wanted.append((index, text, needs))
        counter = _OcrCount(options.report, sum(needs for _, _, needs in wanted))
        for index, text, needs in wanted:
            if needs and engine is not None and not isinstance(engine, str):
                pending = [f for _, _, f, _ in slots if f is not None and not f.done()]
                if len(pending) >= 2 * options.ocr_workers:
                    pending[0].result()  # hold at most 2 × workers rendered pages
                image = pages.render_for_ocr(index, options.ocr_dpi)
                future = pool.submit(engine.read_words, image.png)
                if options.report is not None:
                    future.add_done_callback(counter.done)
                slots.append((index, text, future, replace(image, png=b"")))  # the pixels go with the OCR
                continue
            if text and options.tables and pages.has_paths(index):
                text = tidy(tables(pages.plumber(index)) or text)
            slots.append((index, text, None, None))
        sections = []
        for index, text, future, image in slots:
            read_page: OcrPage | None = future.result() if future is not None else None
            read = tidy(read_page.text) if read_page is not None else ""
            if read:
                width, height = pages.size(index)
                points = 72.0 / options.ocr_dpi
                words = [(word, tuple(v * points for v in image.original(box))) for word, box in read_page.words]
                layout = ocr_layout(index + 1, width, height, read, words) if words else None
                sections.append(Section(text=read, page=index + 1, ocr=True,
                                        layout=SectionLayout(((0, layout),)) if layout is not None else None))
            elif text:
                layout = page_layout(pages.pdfium(index), index + 1, text)
                sections.append(Section(text=text, page=index + 1,
                                        layout=SectionLayout(((0, layout),)) if layout is not None else None))
        meta_title = (reader.metadata.title if reader.metadata else None) or None
    except ParseError:
        raise
    except Exception as exc:  # pypdf, pdfplumber and pdfium raise many kinds on damaged files
        raise ParseError(f"corrupt PDF: {type(exc).__name__}: {exc}") from exc
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        pages.close()
    if not sections:
        if skipped_ocr:
            raise ParseError(f"PDF has no text layer and OCR is unavailable: {skipped_ocr}")
        if options.ocr == "off":
            raise ParseError("PDF has no text layer (scanned pages need OCR: ingest.ocr is 'off')")
        raise ParseError("PDF has no text (no text layer, and OCR found none)")
    if skipped_ocr:
        log.warning("some pages were not OCR'd: %s", skipped_ocr)
    title = str(meta_title).strip() if meta_title else None
    return sections, title
