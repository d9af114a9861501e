"""Zip containers (DOCX, PPTX, XLSX, HWPX): refused before parsing when they would unpack to more
than ``MAX_UNPACKED_BYTES`` — a few kilobytes of zip can claim gigabytes (a zip bomb)."""

from __future__ import annotations

import io
import zipfile

from foldrag.ingest.errors import ParseError

MAX_UNPACKED_BYTES = 512 << 20


def check_zip(data: bytes, kind: str) -> None:
    """ParseError when ``data`` is not a zip or would unpack past the limit."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ParseError(f"corrupt {kind}: not a zip archive ({exc})") from exc
    if unpacked > MAX_UNPACKED_BYTES:
        raise ParseError(f"{kind} would unpack to {unpacked / 1e6:,.0f} MB (more than "
                         f"{MAX_UNPACKED_BYTES / 1e6:,.0f} MB): refused")
