from __future__ import annotations

import numpy as np
import pytest

from foldrag.indexes.chunk_store import FileRecord
from foldrag.indexes.folder import IndexWriter, current_generation, open_snapshot
from foldrag.indexes.parts import parts_for
from foldrag.core.errors import IndexBusy, IndexMismatch, IndexNotWritable, NotFound
from foldrag.core.settings import IndexSettings
from foldrag.core.types import Chunk


def _chunk(i, source="a.txt"):
    return Chunk(id=f"id{source}{i}", source=source, text=f"text {i}", start=0, end=6)


def _write(root, sources, dim=4, settings=None, extra_parts=()):
    settings = settings or IndexSettings(path=root)
    parts = parts_for(settings, dim, None) + list(extra_parts)
    with IndexWriter.open(root, "fake", dim, settings, parts) as writer:
        for source, n in sources.items():
            chunks = [_chunk(i, source) for i in range(n)]
            vectors = np.eye(dim, dtype=np.float32)[[i % dim for i in range(n)]]
            writer.begin().replace_file(FileRecord(source, "sha", 1, 1), chunks, vectors)
        return writer.commit()


def test_commit_then_open(tmp_path):
    manifest = _write(tmp_path, {"a.txt": 3, "b.txt": 2})
    assert (manifest.files, manifest.chunks, manifest.generation) == (2, 5, 1)
    snap = open_snapshot(tmp_path, "fake", 4)
    assert snap.store.count() == 5 and snap.faiss_index.ntotal == 5
    snap.close()


def test_other_embedder_is_a_clear_error(tmp_path):
    _write(tmp_path, {"a.txt": 1})
    with pytest.raises(IndexMismatch, match="built with embedder 'fake'"):
        open_snapshot(tmp_path, "other", 4)
    with pytest.raises(IndexMismatch):
        IndexWriter.open(tmp_path, "fake", 8, IndexSettings(path=tmp_path))


def test_missing_index_is_not_found(tmp_path):
    with pytest.raises(NotFound):
        open_snapshot(tmp_path / "nope")


def test_unwritable_index_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(IndexNotWritable):
        IndexWriter.open(blocker / "index", "fake", 4, IndexSettings(path=blocker / "index"))


def test_second_writer_is_refused(tmp_path):
    with IndexWriter.open(tmp_path, "fake", 4, IndexSettings(path=tmp_path)):
        with pytest.raises(IndexBusy):
            IndexWriter.open(tmp_path, "fake", 4, IndexSettings(path=tmp_path))


def test_failure_during_commit_keeps_previous_generation(tmp_path):
    _write(tmp_path, {"a.txt": 2})
    before = current_generation(tmp_path)

    class Crash:
        name = "crash"

        def manifest_entry(self, chunks):
            return {}

        def build(self, folder, store, entry, previous):
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError):
        _write(tmp_path, {"b.txt": 5}, extra_parts=[Crash()])
    assert current_generation(tmp_path) == before
    assert not list(tmp_path.glob("gen-*.tmp")), "the half-written generation is cleaned up"
    snap = open_snapshot(tmp_path, "fake", 4)
    assert snap.store.count() == 2
    snap.close()


def test_stale_tmp_from_a_killed_writer_is_removed(tmp_path):
    _write(tmp_path, {"a.txt": 1})
    (tmp_path / "gen-000002.tmp").mkdir()
    (tmp_path / "gen-000002.tmp" / "chunks.sqlite").write_bytes(b"half")
    manifest = _write(tmp_path, {"b.txt": 1})
    assert manifest.generation == 2 and manifest.chunks == 2


def test_old_generations_are_collected_but_previous_kept(tmp_path):
    for i in range(4):
        _write(tmp_path, {f"f{i}.txt": 1})
    gens = sorted(p.name for p in tmp_path.glob("gen-*"))
    assert gens == ["gen-000003", "gen-000004"]


def test_reader_keeps_its_snapshot_while_writer_commits(tmp_path):
    _write(tmp_path, {"a.txt": 2})
    snap = open_snapshot(tmp_path, "fake", 4)
    _write(tmp_path, {"b.txt": 3})
    _write(tmp_path, {"c.txt": 3})  # the reader's generation is now garbage-collected
    assert snap.store.count() == 2 and len(snap.store.by_rowids([1, 2])) == 2
    snap.close()


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_index_kinds_find_the_nearest(tmp_path, kind):
    rng = np.random.default_rng(0)
    n, dim = 300, 16
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    settings = IndexSettings(path=tmp_path, kind=kind, ivf_nprobe=64)
    with IndexWriter.open(tmp_path, "fake", dim, settings) as writer:
        chunks = [Chunk(id=f"c{i}", source="a.txt", text=f"t{i}") for i in range(n)]
        writer.begin().replace_file(FileRecord("a.txt", "sha", 1, 1), chunks, vectors)
        manifest = writer.commit()
    assert manifest.index_kind == kind
    snap = open_snapshot(tmp_path, "fake", dim)
    _, ids = snap.faiss_index.search(vectors[:20], 1)
    found = snap.store.by_rowids(ids[:, 0])
    assert sum(found[int(r)].id == f"c{i}" for i, r in enumerate(ids[:, 0])) >= 19
    snap.close()


def test_auto_kind_switches_to_hnsw_at_the_threshold(tmp_path):
    from foldrag.indexes.vector_store import resolve_kind

    auto = IndexSettings(path=tmp_path, hnsw_from=100)
    assert resolve_kind(auto, 99) == "flat" and resolve_kind(auto, 100) == "hnsw"
    assert resolve_kind(IndexSettings(path=tmp_path, kind="ivf"), 10) == "flat"
    rng = np.random.default_rng(1)

    def commit(name: str, n: int) -> str:
        vectors = rng.standard_normal((n, 8)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        with IndexWriter.open(tmp_path, "fake", 8, auto) as writer:
            chunks = [Chunk(id=f"{name}-{i}", source=name, text=f"t{i}") for i in range(n)]
            writer.begin().replace_file(FileRecord(name, name, 1, 1), chunks, vectors)
            return writer.commit().index_kind

    assert commit("a.txt", 60) == "flat"
    assert commit("b.txt", 60) == "hnsw"  # 120 chunks now
    import faiss

    snap = open_snapshot(tmp_path, "fake", 8)  # held: the inner index lives as long as the snapshot
    assert isinstance(faiss.downcast_index(snap.faiss_index.index), faiss.IndexHNSWFlat)
    snap.close()


def test_ivfpq_compresses_and_the_retriever_rescores_exactly(tmp_path):
    from foldrag.indexes.vector_store import PQ_MIN_VECTORS, resolve_kind
    from foldrag.retrieval.dense import DenseRetriever

    assert resolve_kind(IndexSettings(path=tmp_path, kind="ivfpq"), PQ_MIN_VECTORS - 1) == "flat"
    auto = IndexSettings(path=tmp_path, hnsw_from=100, ivfpq_from=20_000)
    assert [resolve_kind(auto, n) for n in (99, 19_999, 20_000)] == ["flat", "hnsw", "ivfpq"]
    rng = np.random.default_rng(2)
    n, dim = 12_000, 32
    centers = rng.standard_normal((50, dim)).astype(np.float32)
    vectors = centers[rng.integers(0, 50, n)] + 0.3 * rng.standard_normal((n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    settings = IndexSettings(path=tmp_path, kind="ivfpq", ivf_nprobe=32)
    with IndexWriter.open(tmp_path, "fake", dim, settings) as writer:
        chunks = [Chunk(id=f"c{i}", source="a.txt", text=f"t{i}") for i in range(n)]
        writer.begin().replace_file(FileRecord("a.txt", "sha", 1, 1), chunks, vectors)
        manifest = writer.commit()
    assert manifest.index_kind == "ivfpq"
    snap = open_snapshot(tmp_path, "fake", dim)
    assert snap.faiss_index.code_size == 4  # bytes per vector in memory: dimension / 8

    class Given:  # the query vectors are stored ones, so the exact best hit is known
        name, dimension, backend = "fake", dim, "hash"

        def embed(self, texts, *, query=False, urgent=None):
            return vectors[[int(t) for t in texts]]

    queries = [str(i) for i in range(0, n, 300)]
    hits = DenseRetriever(snap, Given(), candidates=50).search(queries, k=5)
    found = 0
    for query, row in zip(queries, hits):
        for hit in row:  # exact scores (the stored vectors'), not the codes' approximations
            assert abs(hit.score - float(vectors[int(hit.chunk.id[1:])] @ vectors[int(query)])) < 1e-5
        assert [h.score for h in row] == sorted((h.score for h in row), reverse=True)
        found += row[0].chunk.id == f"c{query}" and abs(row[0].score - 1.0) < 1e-5
    assert found >= 0.9 * len(queries), f"the stored vector itself came first for {found} of {len(queries)}"
    snap.close()
