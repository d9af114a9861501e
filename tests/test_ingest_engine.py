"""The ingest seam: plan (driver) → engine.process → apply (driver). Any engine that reports the
same outcomes gives the same index."""

from __future__ import annotations


import pytest

from foldrag.indexes.chunk_store import FileRecord
from foldrag.indexes.folder import IndexWriter, open_snapshot
from foldrag.ingest.engine import ENGINES, create_engine
from foldrag.ingest.local_engine import LocalEngine
from foldrag.ingest.pipeline import ingest_folder
from foldrag.ingest.plan import plan_folder
from foldrag.core.errors import MissingDependency
from foldrag.core.plugins import Plugin


class ReversedEngine:
    """An engine as a new file would add one: here the local engine's work, reported in reverse
    order (a cluster returns files in whatever order they finish)."""

    @classmethod
    def create(cls, settings):
        return cls()

    def process(self, tasks, work):
        yield from reversed(list(LocalEngine().process(tasks, work)))


@pytest.fixture
def folder(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(6):
        (docs / f"n{i}.md").write_text(f"# Note {i}\n\nnote number {i} is about topic {i * 7}")
    (docs / "empty.txt").write_text("")
    return docs


def _ingest(folder, settings, embedder, index, engine=None):
    with IndexWriter.open(index, embedder.name, embedder.dimension, settings.index) as writer:
        return ingest_folder(folder, writer, embedder, settings.ingest, engine=engine)


def _contents(index):
    snap = open_snapshot(index)
    try:
        chunks = snap.store.by_rowids(range(1, 1000)).values()
        return sorted((c.id, c.source, c.text) for c in chunks), sorted(snap.store.files())
    finally:
        snap.close()


def test_another_engine_gives_the_same_index_and_summary(folder, settings, fake_embedder, tmp_path):
    local = _ingest(folder, settings, fake_embedder, tmp_path / "a")
    other = _ingest(folder, settings, fake_embedder, tmp_path / "b", engine=ReversedEngine())
    strip = lambda s: (s.added, s.updated, s.unchanged, s.removed, s.chunks, s.failed)  # noqa: E731
    assert strip(local) == strip(other) and local.added == 6 and [f.path for f in local.failed] == ["empty.txt"]
    assert _contents(tmp_path / "a") == _contents(tmp_path / "b")


def test_an_engine_is_chosen_by_name(monkeypatch, settings):
    monkeypatch.setitem(ENGINES, "local", Plugin("tests.test_ingest_engine", "ReversedEngine", "nothing"))
    assert isinstance(create_engine(settings.ingest), ReversedEngine)
    monkeypatch.setitem(ENGINES, "local", Plugin("foldrag_no_such_engine", "Engine", "pip install 'foldrag[ray]'"))
    with pytest.raises(MissingDependency, match=r"foldrag\[ray\]"):
        create_engine(settings.ingest)


def test_the_plan_reads_nothing_and_never_removes_uploads(folder, settings):
    stat = (folder / "n1.md").stat()
    known = {
        "n1.md": FileRecord("n1.md", "sha", stat.st_size, stat.st_mtime_ns, 1),  # unchanged by stat
        "n2.md": FileRecord("n2.md", "old-sha", 1, 1, 1),  # changed by stat: a task with its old hash
        "gone.md": FileRecord("gone.md", "sha", 1, 1, 1),
        "upload://kept.pdf": FileRecord("upload://kept.pdf", "sha", 1, 1, 1),
    }
    (folder / "big.txt").write_bytes(b"x" * 3_000_000)
    small = settings.ingest.model_copy(update={"max_file_mb": 1.0})
    plan = plan_folder(folder, known, small)
    assert plan.unchanged == 1 and plan.removed == ("gone.md",)
    assert [f.path for f in plan.failed] == ["big.txt"] and "too large" in plan.failed[0].reason
    tasks = {t.source: t for t in plan.tasks}
    assert tasks["n2.md"].previous_sha256 == "old-sha" and tasks["n3.md"].previous_sha256 is None
    assert "n1.md" not in tasks and plan.seen == 8
