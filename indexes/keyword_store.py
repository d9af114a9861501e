"""The BM25 keyword index of a generation (bm25s, saved as JSON and .npy; no pickle)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

KEYWORD_DIR = "bm25"
ROWIDS = "rowids.npy"


@dataclass(frozen=True)
class KeywordIndex:
    bm25: object  # bm25s.BM25
    rowids: np.ndarray  # position in the BM25 corpus → chunk rowid
    vocab: frozenset[str]

    def search(self, tokens: list[str], k: int) -> list[tuple[int, float]]:
        """``(rowid, score)`` best first; tokens missing from the vocabulary are ignored."""
        known = [t for t in tokens if t in self.vocab]
        if not known or k <= 0 or len(self.rowids) == 0:
            return []
        docs, scores = self.bm25.retrieve([known], k=min(k, len(self.rowids)), show_progress=False, n_threads=1)
        return [(int(self.rowids[d]), float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]


def build_keyword_index(folder: Path, rowids: np.ndarray, corpus_tokens: list[list[str]],
                        k1: float, b: float) -> None:
    import bm25s

    target = folder / KEYWORD_DIR
    target.mkdir(exist_ok=True)
    bm25 = bm25s.BM25(k1=k1, b=b)
    # bm25s rejects an empty corpus; an index with no chunks still gets a valid (empty) folder.
    bm25.index(corpus_tokens if corpus_tokens else [[""]], show_progress=False)
    bm25.save(str(target), show_progress=False)
    np.save(target / ROWIDS, rowids if corpus_tokens else np.zeros(0, np.int64), allow_pickle=False)
    (target / "about.json").write_text(json.dumps({"k1": k1, "b": b, "documents": len(corpus_tokens)}))


def load_keyword_index(folder: Path) -> KeywordIndex | None:
    import bm25s

    target = folder / KEYWORD_DIR
    if not target.is_dir():
        return None
    bm25 = bm25s.BM25.load(str(target), mmap=False, allow_pickle=False, show_progress=False)
    rowids = np.load(target / ROWIDS, allow_pickle=False)
    return KeywordIndex(bm25=bm25, rowids=rowids, vocab=frozenset(bm25.vocab_dict))
