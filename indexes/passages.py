"""Passages for section-level BM25: runs of neighbouring chunks under one heading, their overlap removed.

Chunks are small (200 MiniLM tokens, about 100 Korean characters), so a question's words are often
spread over a chunk and its neighbours. BM25 therefore also scores each chunk's *passage* — up to
``max_chunks`` consecutive chunks of the same file, page and heading — and a chunk ranks by its
passage's score plus a multiple of its own (docs/BENCHMARKS.md: KorQuAD nDCG@10 0.949 → 0.957).

Example::

    groups = passage_groups(chunks, max_chunks=8)     # [[0, 1, 2], [3, 4], ...] positions in ``chunks``
    text = passage_text([chunks[i] for i in groups[0]])
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

import numpy as np

from foldrag.indexes.keyword_store import Passages
from foldrag.core.tokenize import keyword_text
from foldrag.core.types import Chunk


def passage_groups(chunks: Sequence[Chunk], max_chunks: int) -> list[list[int]]:
    """Positions in ``chunks`` grouped into passages, each in text order.

    A passage is a run of chunks sharing source, page and heading, ordered by their start offset;
    a longer run is cut into equal parts of at most ``max_chunks``. Every chunk is in exactly one group.
    """
    if max_chunks < 1:
        raise ValueError("max_chunks must be at least 1")
    order = sorted(range(len(chunks)), key=lambda i: (chunks[i].source, chunks[i].page or 0,
                                                      chunks[i].start, chunks[i].end))
    runs: list[list[int]] = []
    for i in order:
        if runs and _key(chunks[runs[-1][-1]]) == _key(chunks[i]):
            runs[-1].append(i)
        else:
            runs.append([i])
    groups: list[list[int]] = []
    for run in runs:
        size = math.ceil(len(run) / math.ceil(len(run) / max_chunks))
        groups.extend(run[j:j + size] for j in range(0, len(run), size))
    return groups


def _key(chunk: Chunk) -> tuple:
    return (chunk.source, chunk.page, chunk.heading)


def passage_text(chunks: Sequence[Chunk]) -> str:
    """The text of consecutive chunks with the overlap between neighbours counted once."""
    text, end = "", None
    for chunk in chunks:
        piece = chunk.text
        if end is not None and chunk.start < end:
            piece = piece[end - chunk.start:]
        elif text:
            piece = "\n" + piece
        text += piece
        end = chunk.end if end is None else max(end, chunk.end)
    return text


def passage_key(tokenizer_id: str, text: str) -> str:
    """The cache key of a passage's tokens."""
    return hashlib.sha256(f"{tokenizer_id}\x00{text}".encode("utf-8")).hexdigest()[:32]


def tokenize_passages(store, tokenizer, max_chunks: int) -> Passages:
    """The passage BM25 input for every chunk of ``store`` (rowid order); passage tokens are cached
    in the store, so a commit re-tokenizes only the passages whose text changed."""
    chunks = store.chunks()
    groups = passage_groups(chunks, max_chunks)
    owner = np.zeros(len(chunks), np.int64)
    cached = store.passage_tokens()
    kept: dict[str, list[str]] = {}
    tokens: list[list[str]] = []
    for number, group in enumerate(groups):
        owner[group] = number
        first = chunks[group[0]]
        text = keyword_text(first.title, first.heading, passage_text([chunks[i] for i in group]))
        key = passage_key(tokenizer.id, text)
        if key not in kept:
            kept[key] = cached[key] if key in cached else tokenizer(text)
        tokens.append(kept[key])
    store.replace_passage_tokens(kept)
    return Passages(owner=owner, tokens=tokens)
