"""FAISS shards (index.shard_chunks): the same hits as one index, built shard by shard, unchanged
shards linked (not rebuilt) by the next commit, damaged or re-configured ones rebuilt."""

from __future__ import annotations

import json
import zlib

import numpy as np
import pytest

from foldrag.indexes.chunk_store import FileRecord
from foldrag.indexes.folder import IndexWriter, current_generation, open_snapshot
from foldrag.indexes.vector_part import SHARDS, VECTORS
from foldrag.core.settings import IndexSettings
from foldrag.core.types import Chunk

DIM = 16


def _vectors(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _commit(root, settings, files: dict[str, int], removed=(), version=""):
    with IndexWriter.open(root, "fake", DIM, settings) as writer:
        for source, n in files.items():
            chunks = [Chunk(id=f"{source}-{version}{i}", source=source, text=f"{source} {version}{i}") for i in range(n)]
            # a seed of the name itself: hash() changes per process, and two files whose seeds met
            # (hash % 1000) had the same vectors: tied scores, in either order
            writer.begin().replace_file(FileRecord(source, source, 1, 1), chunks, _vectors(n, zlib.crc32(source.encode())))
        for source in removed:
            writer.begin().remove_file(source)
        return writer.commit()


def _search(root, queries, k=10):
    snap = open_snapshot(root, "fake", DIM)
    try:
        scores, ids = snap.faiss_index.search(queries, k)
        chunks = snap.store.by_rowids({int(i) for i in ids.ravel() if i >= 0})
        return scores, [[chunks[int(i)].id for i in row] for row in ids], snap.faiss_index.ntotal
    finally:
        snap.close()


def test_shards_find_what_one_index_finds(tmp_path):
    files = {f"f{i}.txt": 9 + i for i in range(12)}  # 174 chunks
    _commit(tmp_path / "one", IndexSettings(path=tmp_path / "one", kind="flat"), files)
    manifest = _commit(tmp_path / "sharded", IndexSettings(path=tmp_path / "sharded", kind="flat", shard_chunks=25), files)
    generation = current_generation(tmp_path / "sharded")
    listing = json.loads((generation / SHARDS).read_text())
    assert len(listing["shards"]) == 7 and sum(s["chunks"] for s in listing["shards"]) == manifest.chunks == 174
    assert not (generation / VECTORS).exists()
    queries = _vectors(30, 7)
    one_scores, one_ids, _ = _search(tmp_path / "one", queries)
    shard_scores, shard_ids, total = _search(tmp_path / "sharded", queries)
    assert total == 174 and shard_ids == one_ids  # merged by the largest inner product
    np.testing.assert_allclose(shard_scores, one_scores, rtol=1e-6)


def test_a_commit_rebuilds_only_the_shards_whose_chunks_changed(tmp_path):
    settings = IndexSettings(path=tmp_path, kind="flat", shard_chunks=20)
    files = {f"f{i}.txt": 10 for i in range(6)}  # rowids 1..60: shards 0, 1, 2
    _commit(tmp_path, settings, files)
    first = current_generation(tmp_path)
    inode = {p.name: p.stat().st_ino for p in first.glob("vectors-*.faiss")}
    # f5 (rowids 51..60, shard 2) gets new text in 12 chunks: SQLite gives them rowids 51..62, so
    # shard 2 is rebuilt and shard 3 made; shards 0 and 1 are linked.
    _commit(tmp_path, settings, {"f5.txt": 12}, version="v2-")
    second = current_generation(tmp_path)
    now = {p.name: p.stat().st_ino for p in second.glob("vectors-*.faiss")}
    assert now["vectors-00000.faiss"] == inode["vectors-00000.faiss"]  # linked, not rebuilt
    assert now["vectors-00001.faiss"] == inode["vectors-00001.faiss"]
    assert now["vectors-00002.faiss"] != inode["vectors-00002.faiss"] and "vectors-00003.faiss" in now
    assert _search(tmp_path, _vectors(5, 3))[2] == 62 and any("v2-" in i for row in _search(tmp_path, _vectors(200, 4), k=62)[1] for i in row)
    # a removed file empties rows of shard 1: only that shard is rebuilt
    _commit(tmp_path, settings, {}, removed=["f2.txt"])
    third = current_generation(tmp_path)
    after = {p.name: p.stat().st_ino for p in third.glob("vectors-*.faiss")}
    assert after["vectors-00000.faiss"] == inode["vectors-00000.faiss"]
    assert after["vectors-00001.faiss"] != now["vectors-00001.faiss"]
    assert after["vectors-00002.faiss"] == now["vectors-00002.faiss"]
    assert after["vectors-00003.faiss"] == now["vectors-00003.faiss"]
    assert _search(tmp_path, _vectors(5, 3))[2] == 52


def test_other_build_settings_rebuild_every_shard(tmp_path):
    files = {f"f{i}.txt": 10 for i in range(4)}
    _commit(tmp_path, IndexSettings(path=tmp_path, kind="hnsw", shard_chunks=20), files)
    before = {p.name: p.stat().st_ino for p in current_generation(tmp_path).glob("vectors-*.faiss")}
    _commit(tmp_path, IndexSettings(path=tmp_path, kind="hnsw", shard_chunks=20, hnsw_m=8), {"f0.txt": 10})
    after = {p.name: p.stat().st_ino for p in current_generation(tmp_path).glob("vectors-*.faiss")}
    assert not set(before.items()) & set(after.items())


def test_changing_shard_size_or_turning_shards_off_rebuilds(tmp_path):
    files = {f"f{i}.txt": 10 for i in range(4)}
    _commit(tmp_path, IndexSettings(path=tmp_path, kind="flat", shard_chunks=15), files)
    with IndexWriter.open(tmp_path, "fake", DIM, IndexSettings(path=tmp_path, kind="flat")) as writer:
        assert writer.needs_rebuild  # the manifest's vectors entry records shard_chunks
        writer.commit()
    generation = current_generation(tmp_path)
    assert (generation / VECTORS).exists() and not (generation / SHARDS).exists()
    assert _search(tmp_path, _vectors(2, 1))[2] == 40


def test_a_damaged_shard_is_rebuilt_not_linked(tmp_path):
    settings = IndexSettings(path=tmp_path, kind="flat", shard_chunks=20)
    _commit(tmp_path, settings, {f"f{i}.txt": 10 for i in range(4)})
    broken = current_generation(tmp_path) / "vectors-00000.faiss"
    broken.write_bytes(b"\0" * broken.stat().st_size)
    with pytest.raises(Exception, match="damaged"):
        open_snapshot(tmp_path, "fake", DIM)
    _commit(tmp_path, settings, {"f9.txt": 3})  # the writer sees the damage: every part is rebuilt
    fresh = current_generation(tmp_path) / "vectors-00000.faiss"
    assert fresh.stat().st_ino != broken.stat().st_ino
    assert _search(tmp_path, _vectors(2, 1))[2] == 43
