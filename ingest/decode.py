"""Bytes to text: UTF-8 first, then charset detection (CP949/EUC-KR Korean files are common)."""

from __future__ import annotations

import codecs

from foldrag.ingest.errors import ParseError

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def looks_binary(data: bytes) -> bool:
    """NUL bytes in the first 8 KiB mean a binary file (UTF-16 is caught by its BOM before this)."""
    return b"\x00" in data[:8192]


def decode_text(data: bytes) -> str:
    """Decode ``data`` without replacement characters, or raise ParseError with the reason."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding)
    if looks_binary(data):
        raise ParseError("binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise ParseError("not text: no character encoding fits")
    return str(best)
