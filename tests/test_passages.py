"""Passage-level BM25: grouping neighbouring chunks, merging their overlap, scoring, caching, rebuilds."""

from __future__ import annotations

import random

import numpy as np
import pytest

from foldrag.indexes.chunk_store import FileRecord
from foldrag.indexes.folder import IndexWriter, open_snapshot
from foldrag.indexes.keyword_store import Passages, build_keyword_index, load_keyword_index
from foldrag.indexes.passages import passage_groups, passage_text
from foldrag.core.settings import IndexSettings
from foldrag.core.types import Chunk


def _c(source, start, text, heading=None, page=None):
    return Chunk(id=f"{source}{page}{start}", source=source, text=text, start=start, end=start + len(text),
                 heading=heading, page=page)


class SplitTokenizer:
    """Whitespace tokens; counts the texts it was asked for."""

    id = "split/v1"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, text: str) -> list[str]:
        self.calls.append(text)
        return text.lower().split()


def test_groups_follow_file_page_heading_and_cap():
    chunks = [_c("a.md", 10 * i, f"a{i}", heading="H1") for i in range(5)]
    chunks += [_c("a.md", 100 + 10 * i, f"b{i}", heading="H2") for i in range(2)]
    chunks += [_c("doc.pdf", 0, "p1", page=1), _c("doc.pdf", 5, "p1b", page=1), _c("doc.pdf", 0, "p2", page=2)]
    shuffled = chunks[:]
    random.Random(3).shuffle(shuffled)
    groups = passage_groups(shuffled, max_chunks=2)
    texts = [[shuffled[i].text for i in g] for g in groups]
    # five H1 chunks in near-equal parts of at most 2, in text order; headings and pages never mix
    assert texts == [["a0", "a1"], ["a2", "a3"], ["a4"], ["b0", "b1"], ["p1", "p1b"], ["p2"]]
    assert sorted(i for g in groups for i in g) == list(range(len(chunks)))
    assert len(passage_groups(shuffled, max_chunks=8)) == 4
    with pytest.raises(ValueError):
        passage_groups(chunks, 0)


def test_passage_text_counts_overlap_once():
    first, second = _c("a", 0, "alpha beta gamma"), _c("a", 11, "gamma delta")
    assert passage_text([first, second]) == "alpha beta gamma delta"
    apart = _c("a", 40, "omega")
    assert passage_text([first, apart]) == "alpha beta gamma\nomega"


def test_chunk_ranks_with_its_passage(tmp_path):
    # chunk 1 says "layers"; its neighbour (same passage) says "gpu". Chunk 2 says "layers" alone.
    corpus = [["gpu", "offload"], ["layers", "memory"], ["layers"], ["unrelated"]]
    rowids = np.array([10, 11, 12, 13])
    build_keyword_index(tmp_path, rowids, corpus, 0.9, 0.4)
    chunk_only = load_keyword_index(tmp_path)
    assert [r for r, _ in chunk_only.search(["gpu", "layers"], 3, 2.0)][:2] == [10, 12]  # 12 is short: it beats 11
    passages = Passages(owner=np.array([0, 0, 1, 2]), tokens=[["gpu", "offload", "layers", "memory"], ["layers"], ["unrelated"]])
    build_keyword_index(tmp_path, rowids, corpus, 0.9, 0.4, passages)
    index = load_keyword_index(tmp_path)
    ranked = index.search(["gpu", "layers"], 3, 2.0)
    assert [r for r, _ in ranked] == [10, 11, 12], "both chunks of the passage with both words come first"
    assert ranked[0][1] > ranked[1][1] > ranked[2][1] > 0
    # the chunk's own share: with weight 0 both chunks of the passage tie on score
    tied = index.search(["gpu", "layers"], 2, chunk_weight=0.0)
    assert tied[0][1] == pytest.approx(tied[1][1])
    assert index.search(["absent"], 3, 2.0) == [] and index.search(["gpu"], 0, 2.0) == []
    assert len(index.search(["gpu", "layers", "unrelated"], 10, 2.0)) == 4


def _write(root, files, tokenizer, settings):
    with IndexWriter.open(root, "fake", 4, settings, tokenizer=tokenizer) as writer:
        for source, texts in files.items():
            chunks, start = [], 0
            for text in texts:
                chunks.append(_c(source, start, text))
                start += len(text) + 1
            writer.begin().replace_file(FileRecord(source, source + str(texts), 1, 1), chunks,
                                      np.eye(4, dtype=np.float32)[[i % 4 for i in range(len(chunks))]])
        return writer.commit()


def test_passage_tokens_are_cached_across_commits_and_settings_rebuild(tmp_path):
    settings = IndexSettings(path=tmp_path, bm25_passage_chunks=8)
    tokenizer = SplitTokenizer()
    manifest = _write(tmp_path, {"a.txt": ["gpu offload", "places layers"], "b.txt": ["fusion lists"]}, tokenizer, settings)
    assert manifest.keyword_passages == 8
    assert sorted(tokenizer.calls) == sorted(["gpu offload", "places layers", "fusion lists",  # chunks
                                              "gpu offload\nplaces layers", "fusion lists"])  # passages
    snap = open_snapshot(tmp_path)
    hits = snap.keyword_index.search(["gpu", "layers"], 5, 2.0)
    assert len(hits) == 2 and snap.keyword_index.owner.tolist() == [0, 0, 1]
    snap.close()

    tokenizer.calls.clear()
    _write(tmp_path, {"b.txt": ["fusion merges lists"]}, tokenizer, settings)  # a.txt untouched
    assert tokenizer.calls == ["fusion merges lists", "fusion merges lists"], \
        "only b.txt's chunk and passage are tokenized; a.txt's passage comes from the cache"

    with IndexWriter.open(tmp_path, "fake", 4, IndexSettings(path=tmp_path, bm25_passage_chunks=0),
                          tokenizer=tokenizer) as writer:
        assert writer.needs_rebuild, "another passage size asks for a rebuild"
        manifest = writer.commit()
    assert manifest.keyword_passages == 0
    snap = open_snapshot(tmp_path)
    assert snap.keyword_index.passages is None
    snap.close()
