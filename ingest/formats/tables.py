"""Tables as Markdown: what every format with tables (PDF, DOCX, HWP, HWPX, PPTX, XLSX) emits.

A long table is cut into blocks of ``rows_per_block`` rows, each under its own copy of the header
row, so a chunk that holds the middle of a big sheet still says which column a cell belongs to.
"""

from __future__ import annotations

from collections.abc import Sequence

ROWS_PER_BLOCK = 20


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return " ".join(text.replace("|", "\\|").split())


def markdown_table(rows: Sequence[Sequence[object]], rows_per_block: int = ROWS_PER_BLOCK) -> str:
    """``rows`` (the first is the header) as Markdown; empty rows and columns are dropped."""
    grid = [[_cell(v) for v in row] for row in rows]
    grid = [row for row in grid if any(row)]
    if not grid:
        return ""
    width = max(len(row) for row in grid)
    grid = [row + [""] * (width - len(row)) for row in grid]
    keep = [c for c in range(width) if any(row[c] for row in grid)]
    grid = [[row[c] for c in keep] for row in grid]
    header, body = grid[0], grid[1:]
    head = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    if not body:
        return "\n".join(head)
    blocks = []
    for at in range(0, len(body), rows_per_block):
        lines = head + ["| " + " | ".join(row) + " |" for row in body[at : at + rows_per_block]]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
