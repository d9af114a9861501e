"""Optical character recognition for pages without a text layer and for image files.

``OcrEngine`` is the seam; ``TesseractOcr`` runs the ``tesseract`` program (Debian's
``tesseract-ocr`` with ``tesseract-ocr-kor``; scripts/run.sh setup installs them) on PNG bytes
through its standard input, one single-threaded process per page, with a time limit; a PDF's
pages run several at once (``ingest.ocr_workers``). Nothing here runs at import.
"""

from __future__ import annotations

import functools
import io
import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import Protocol

from foldrag.ingest.errors import ParseError

INSTALL_HINT = "install tesseract-ocr and tesseract-ocr-kor (scripts/run.sh setup does on Debian/Ubuntu)"
MAX_PIXELS = 60_000_000  # a larger image is scaled down before OCR (a 600-dpi A3 scan is ~70 MP)


@dataclass(frozen=True)
class OcrPage:
    """What OCR read on an image: its text, and each word with its box in the image's pixels."""

    text: str
    words: tuple[tuple[str, tuple[float, float, float, float]], ...] = ()


class OcrEngine(Protocol):
    name: str

    def read(self, png: bytes) -> str:
        """The text in a PNG image; raises ParseError when the engine fails on it."""
        ...

    def read_words(self, png: bytes) -> OcrPage:
        """The text in a PNG image and where its words are (one run of the engine)."""
        ...


@functools.lru_cache(maxsize=8)
def tesseract_missing(languages: str) -> str | None:
    """Why Tesseract cannot read ``languages`` ('kor+eng') here, or None when it can (cached)."""
    program = shutil.which("tesseract")
    if program is None:
        return f"the tesseract program is not installed; {INSTALL_HINT}"
    try:
        listed = subprocess.run([program, "--list-langs"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"tesseract does not run ({type(exc).__name__}); {INSTALL_HINT}"
    have = {line.strip() for line in (listed.stdout + listed.stderr).splitlines()}
    lacking = [lang for lang in languages.split("+") if lang not in have]
    if lacking:
        return f"tesseract lacks the language data {', '.join(lacking)}; {INSTALL_HINT}"
    return None


@dataclass(frozen=True)
class TesseractOcr:
    """Tesseract, one process per page. It runs under ``nice`` (bulk work: a server's queries in
    the foldrag process get the CPU first; alone on the machine it loses nothing) and with one
    OpenMP thread: on this project's 2-core EPYC, Tesseract's own threads made a Korean page take
    3.3 s (2.5 s of it spinning in the kernel) against 1.5 s single-threaded — pages in parallel
    processes use the cores instead."""

    languages: str = "kor+eng"
    timeout_s: float = 300.0
    niceness: int = 10
    name: str = "tesseract"

    def read(self, png: bytes) -> str:
        return self.read_words(png).text

    def read_words(self, png: bytes) -> OcrPage:
        # Page mode 4 (one column of text of varying sizes) reads Korean pages far better than
        # mode 3's full layout analysis, which split a two-line Korean page into word columns and
        # found nothing on a one-line A4 scan ("Empty page!!"); mode 6 (one block) is the fallback.
        for mode in ("4", "6"):
            page = self._run(png, mode)
            if page.text.strip():
                return page
        return OcrPage("")

    def _run(self, png: bytes, page_mode: str) -> OcrPage:
        """One Tesseract run writing its text and its word table (TSV) side by side."""
        import tempfile

        program = shutil.which("tesseract")
        if program is None:
            raise ParseError(f"OCR unavailable: {INSTALL_HINT}")
        nice = shutil.which("nice") if self.niceness else None
        prefix = [nice, "-n", str(self.niceness)] if nice else []
        with tempfile.TemporaryDirectory(prefix="foldrag-ocr-") as tmp:
            base = os.path.join(tmp, "page")
            try:
                done = subprocess.run(
                    [*prefix, program, "stdin", base, "-l", self.languages, "--psm", page_mode, "txt", "tsv"],
                    input=png, capture_output=True, timeout=self.timeout_s,
                    env={**os.environ, "OMP_THREAD_LIMIT": "1"},
                )
            except subprocess.TimeoutExpired as exc:
                raise ParseError(f"OCR took longer than {self.timeout_s:.0f} s on one page") from exc
            if done.returncode != 0:
                reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
                raise ParseError(f"OCR failed: {reason[-1] if reason else 'tesseract exit ' + str(done.returncode)}")
            with open(base + ".txt", encoding="utf-8", errors="replace") as fh:
                text = fh.read()
            with open(base + ".tsv", encoding="utf-8", errors="replace") as fh:
                words = _tsv_words(fh.read())
        return OcrPage(text, words)


def _tsv_words(tsv: str) -> tuple[tuple[str, tuple[float, float, float, float]], ...]:
    """The words of Tesseract's TSV (level 5 rows: left, top, width, height, conf, text)."""
    words = []
    for line in tsv.splitlines()[1:]:
        cols = line.split("\t")
        if len(cols) < 12 or cols[0] != "5" or not cols[11].strip():
            continue
        left, top, width, height = (float(v) for v in cols[6:10])
        words.append((cols[11], (left, top, left + width, top + height)))
    return tuple(words)


@dataclass(frozen=True)
class OcrImage:
    """An image made ready for OCR, and how to take its pixels back to the original's."""

    png: bytes
    border: int  # white pixels added on every side
    factor: float  # the original was scaled by this before the border was added

    def original(self, box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        return tuple((v - self.border) / self.factor for v in box)  # type: ignore[return-value]


def ocr_image(image) -> OcrImage:
    """A PIL image as grayscale PNG bytes, scaled down past MAX_PIXELS, with a white border.

    Tesseract segments lines badly when text runs close to the image's edge (its documentation
    recommends a border); on one KorQuAD page drawn 64 px from the edge, lines came out merged and
    repeated until 100 px of white were added."""
    from PIL import ImageOps

    image = image.convert("L")
    pixels = image.width * image.height
    factor = 1.0
    if pixels > MAX_PIXELS:
        factor = (MAX_PIXELS / pixels) ** 0.5
        image = image.resize((max(1, int(image.width * factor)), max(1, int(image.height * factor))))
    border = max(50, max(image.size) // 16)
    image = ImageOps.expand(image, border=border, fill=255)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return OcrImage(out.getvalue(), border, factor)


def png_bytes(image) -> bytes:
    """``ocr_image``'s bytes."""
    return ocr_image(image).png


def read_image(data: bytes, engine: OcrEngine) -> str:
    """OCR an image file's bytes (PNG, JPEG, TIFF, BMP, WebP: whatever Pillow opens)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return engine.read(png_bytes(image))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ParseError(f"corrupt image: {type(exc).__name__}") from exc
