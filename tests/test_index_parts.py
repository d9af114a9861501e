"""Index parts: each builds its files at commit, loads with the snapshot, and its manifest entry
decides when the index must be rebuilt."""

from __future__ import annotations

import json
from typing import get_args

import numpy as np

from foldrag.indexes import parts as parts_module
from foldrag.indexes.chunk_store import FileRecord
from foldrag.indexes.folder import IndexWriter, open_snapshot
from foldrag.indexes.parts import parts_for
from foldrag.indexes.vector_store import FAISS_KINDS
from foldrag.core.settings import IndexSettings
from foldrag.core.types import Chunk


class CountPart:
    """A part as a new file would add one: writes the chunk count, loads it back."""

    name = "counts"

    def __init__(self, version: int = 1) -> None:
        self.version = version

    @classmethod
    def for_settings(cls, settings, *, dimension, tokenizer):
        return cls()

    def manifest_entry(self, chunks):
        return {"version": self.version}

    def build(self, folder, store, entry, previous):
        (folder / "counts.json").write_text(json.dumps({"chunks": store.count()}))

    @staticmethod
    def load(folder, manifest):
        path = folder / "counts.json"
        return json.loads(path.read_text())["chunks"] if path.exists() else None


def _commit(root, n, parts):
    settings = IndexSettings(path=root)
    with IndexWriter.open(root, "fake", 4, settings, parts) as writer:
        chunks = [Chunk(id=f"c{i}", source="a.txt", text=f"text {i}") for i in range(n)]
        writer.begin().replace_file(FileRecord("a.txt", "sha", 1, 1), chunks, np.eye(4, dtype=np.float32)[[i % 4 for i in range(n)]])
        writer.commit()


def test_a_registered_part_is_built_and_loaded(tmp_path, monkeypatch):
    monkeypatch.setattr(parts_module, "PARTS", parts_module.PARTS + (CountPart,))
    settings = IndexSettings(path=tmp_path)
    _commit(tmp_path, 3, parts_for(settings, 4, None))
    snap = open_snapshot(tmp_path)
    assert snap.parts["counts"] == 3 and snap.faiss_index.ntotal == 3
    assert "keywords" not in snap.parts  # no tokenizer: the keyword part declined
    snap.close()


def test_a_changed_manifest_entry_asks_for_a_rebuild(tmp_path):
    settings = IndexSettings(path=tmp_path)
    _commit(tmp_path, 2, parts_for(settings, 4, None))
    with IndexWriter.open(tmp_path, "fake", 4, settings, parts_for(settings, 4, None)) as writer:
        assert not writer.needs_rebuild
    with IndexWriter.open(tmp_path, "fake", 4, settings, parts_for(settings, 4, None) + [CountPart()]) as writer:
        assert writer.needs_rebuild  # a part added
        writer.commit()
    with IndexWriter.open(tmp_path, "fake", 4, settings, parts_for(settings, 4, None) + [CountPart()]) as writer:
        assert not writer.needs_rebuild
    with IndexWriter.open(tmp_path, "fake", 4, settings, parts_for(settings, 4, None) + [CountPart(version=2)]) as writer:
        assert writer.needs_rebuild  # its entry changed
    hnsw = IndexSettings(path=tmp_path, kind="hnsw")
    with IndexWriter.open(tmp_path, "fake", 4, hnsw) as writer:
        assert writer.needs_rebuild  # the vectors part's FAISS kind changed


def test_every_faiss_kind_in_settings_has_a_builder():
    kinds = set(get_args(IndexSettings.model_fields["kind"].annotation)) - {"auto"}
    assert kinds == set(FAISS_KINDS)


def test_a_manifest_from_before_parts_reads_the_same(tmp_path):
    from foldrag.indexes.manifest import Manifest

    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"embedder": "e", "dimension": 4, "index_kind": "hnsw", "tokenizer": "kiwi-1",
                                "keyword_passages": 8, "schema_version": 1, "chunks": 3}))
    old = Manifest.read(path)
    assert old.parts == {"vectors": {"kind": "hnsw"}, "keywords": {"tokenizer": "kiwi-1", "passages": 8}}
    assert (old.index_kind, old.tokenizer, old.keyword_passages) == ("hnsw", "kiwi-1", 8)
    path.write_text(old.to_json())
    assert Manifest.read(path) == old
