"""Headings in word-processor files: from outline styles (개요 1…7) when a paragraph has one, else
from type size — a short one-line paragraph set clearly larger than the body text is a heading, the
largest size level 1. Many Korean documents mark titles by size alone, never by style.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

HEADING_SCALE = 1.2  # at least this many times the body size
MAX_HEADING_CHARS = 80
MAX_SIZE_LEVELS = 3


@dataclass(frozen=True)
class Para:
    """A body paragraph whose heading level is decided once the whole document has been read."""

    text: str
    outline: int | None = None  # level of its outline style
    size: float | None = None  # its dominant type size (any unit, the same for the document)


def plain(block: str | Para) -> str:
    """A block's text without any heading decision (for table cells and notes)."""
    return block.text if isinstance(block, Para) else block


def _is_short_line(text: str) -> bool:
    return "\n" not in text and len(text) <= MAX_HEADING_CHARS


def render(blocks: Sequence[str | Para]) -> list[str]:
    """``blocks`` as text: paragraphs that are headings start with '#' (level + 1: the file's title
    is the '#')."""
    weights: Counter[float] = Counter()
    for block in blocks:
        if isinstance(block, Para) and block.size:
            weights[block.size] += len(block.text)
    body = weights.most_common(1)[0][0] if weights else None
    large = sorted({b.size for b in blocks if isinstance(b, Para) and b.size and body
                    and b.size >= body * HEADING_SCALE and _is_short_line(b.text)}, reverse=True)
    size_level = {size: min(rank + 1, MAX_SIZE_LEVELS) for rank, size in enumerate(large)}
    out = []
    for block in blocks:
        if not isinstance(block, Para):
            out.append(block)
            continue
        level = block.outline if block.outline and _is_short_line(block.text) else None
        if level is None and block.size in size_level and _is_short_line(block.text):
            level = size_level[block.size]
        out.append(f"{'#' * min(level + 1, 6)} {block.text}" if level else block.text)
    return out
