"""The BM25 keyword index of a generation (bm25s, saved as JSON and .npy; no pickle).

Two BM25 indexes live side by side: one over chunks and, unless turned off, one over passages
(neighbouring chunks under one heading, see ``indexes/passages.py``). A chunk's keyword score is
its passage's score plus ``chunk_weight`` times its own; ties go to the chunk's own score.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

KEYWORD_DIR = "bm25"
PASSAGE_DIR = "passages"
ROWIDS = "rowids.npy"
OWNER = "owner.npy"


@dataclass(frozen=True)
class Passages:
    """The passage-level BM25 input: ``owner[i]`` is the passage of the i-th chunk (rowid order)."""

    owner: np.ndarray
    tokens: list[list[str]]


@dataclass(frozen=True)
class KeywordIndex:
    bm25: object  # bm25s.BM25 over chunks
    rowids: np.ndarray  # position in the BM25 corpus → chunk rowid
    vocab: frozenset[str]
    passages: object | None = None  # bm25s.BM25 over passages
    owner: np.ndarray | None = None  # chunk position → passage position
    passage_vocab: frozenset[str] = frozenset()

    def search(self, tokens: list[str], k: int, chunk_weight: float) -> list[tuple[int, float]]:
        """``(rowid, score)`` best first, ties to the chunk's own score; unknown tokens are ignored.

        With passages a chunk scores its passage's BM25 plus ``chunk_weight`` × its own; without, its own.
        """
        if k <= 0 or len(self.rowids) == 0:
            return []
        known = [t for t in tokens if t in self.vocab]
        own = self.bm25.get_scores(known) if known else np.zeros(len(self.rowids), np.float32)
        total = own
        if self.passages is not None:
            in_passages = [t for t in tokens if t in self.passage_vocab]
            total = chunk_weight * own
            if in_passages:
                total = total + self.passages.get_scores(in_passages)[self.owner]
        top = np.flatnonzero(total > 0)
        if len(top) > k:
            top = top[np.argpartition(-total[top], k - 1)[:k]]
        top = top[np.lexsort((-own[top], -total[top]))]
        return [(int(self.rowids[i]), float(total[i])) for i in top]


def import_bm25s():
    """The bm25s module, with its logger at WARNING: bm25s sets it to DEBUG when imported, and its
    "Building index from tokens" lines then reach the terminal of anyone whose program logs."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


def _save_bm25(target: Path, corpus_tokens: list[list[str]], k1: float, b: float) -> None:
    bm25s = import_bm25s()

    target.mkdir(exist_ok=True)
    bm25 = bm25s.BM25(k1=k1, b=b)
    # bm25s rejects an empty corpus; an index with no chunks still gets a valid (empty) folder.
    bm25.index(corpus_tokens if corpus_tokens else [[""]], show_progress=False)
    bm25.save(str(target), show_progress=False)


def build_keyword_index(folder: Path, rowids: np.ndarray, corpus_tokens: list[list[str]],
                        k1: float, b: float, passages: Passages | None = None) -> None:
    target = folder / KEYWORD_DIR
    _save_bm25(target, corpus_tokens, k1, b)
    np.save(target / ROWIDS, rowids if corpus_tokens else np.zeros(0, np.int64), allow_pickle=False)
    about = {"k1": k1, "b": b, "documents": len(corpus_tokens), "passages": 0}
    if passages is not None and corpus_tokens:
        if len(passages.owner) != len(corpus_tokens):
            raise ValueError("every chunk needs a passage")
        _save_bm25(target / PASSAGE_DIR, passages.tokens, k1, b)
        np.save(target / PASSAGE_DIR / OWNER, passages.owner.astype(np.int64), allow_pickle=False)
        about["passages"] = len(passages.tokens)
    (target / "about.json").write_text(json.dumps(about))


def load_keyword_index(folder: Path) -> KeywordIndex | None:
    bm25s = import_bm25s()

    target = folder / KEYWORD_DIR
    if not target.is_dir():
        return None
    bm25 = bm25s.BM25.load(str(target), mmap=False, allow_pickle=False, show_progress=False)
    rowids = np.load(target / ROWIDS, allow_pickle=False)
    passages, owner, passage_vocab = None, None, frozenset()
    if (target / PASSAGE_DIR / OWNER).is_file():
        passages = bm25s.BM25.load(str(target / PASSAGE_DIR), mmap=False, allow_pickle=False, show_progress=False)
        owner = np.load(target / PASSAGE_DIR / OWNER, allow_pickle=False)
        passage_vocab = frozenset(passages.vocab_dict)
    return KeywordIndex(bm25=bm25, rowids=rowids, vocab=frozenset(bm25.vocab_dict), passages=passages,
                        owner=owner, passage_vocab=passage_vocab)
