"""Text streaming shared by the local backends: stop strings, and bytes to whole characters."""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator


def cut_at_stops(pieces: Iterable[str], stops: tuple[str, ...]) -> Iterator[str]:
    """``pieces`` up to (not including) the first stop string, which may span pieces."""
    emitted = ""
    for piece in pieces:
        if not piece:
            continue
        emitted += piece
        cut = stop_at(emitted, stops)
        if cut is not None:
            tail = piece[: max(0, len(piece) - (len(emitted) - cut))]
            if tail:
                yield tail
            return
        yield piece


def stop_at(text: str, stops: tuple[str, ...]) -> int | None:
    positions = [text.find(s) for s in stops if s and s in text]
    return min(positions) if positions else None


def utf8_pieces(chunks: Iterable[bytes]) -> Iterator[str]:
    """Decode byte chunks (one token's bytes each) into text pieces without ever cutting a
    multi-byte character: an incomplete sequence waits for the next token's bytes."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    for chunk in chunks:
        text = decoder.decode(chunk)
        if text:
            yield text
    rest = decoder.decode(b"", final=True)
    if rest.strip("\ufffd"):
        yield rest.replace("\ufffd", "")
