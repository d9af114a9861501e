from __future__ import annotations

from tests.server_support import shared_tokenizer

import os

import pytest

from foldrag.indexes.folder import IndexWriter, open_snapshot
from foldrag.ingest.pipeline import ingest_folder
from foldrag.build import build_rag
from foldrag.core.errors import NotFound
from tests.docs_factory import write_docx, write_pdf


def _ingest(folder, settings, embedder):
    with IndexWriter.open(settings.index.path, embedder.name, embedder.dimension, settings.index) as writer:
        return ingest_folder(folder, writer, embedder, settings.ingest)


@pytest.fixture
def folder(tmp_path):
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "a.txt").write_text("apples grow on trees in the orchard\n\nthey are red or green")
    (docs / "sub" / "b.md").write_text("# Bananas\n\nbananas are yellow and grow in bunches")
    (docs / "c.html").write_text("<h1>Cherries</h1><p>cherries are small and red</p>")
    write_pdf(docs / "d.pdf", ["dates grow on palm trees", "second page about figs"])
    write_docx(docs / "e.docx", [(1, "Elderberry"), (None, "elderberries make syrup")])
    return docs


def test_first_ingest_then_unchanged_embeds_nothing(folder, settings, fake_embedder):
    first = _ingest(folder, settings, fake_embedder)
    assert (first.added, first.updated, first.unchanged, first.removed, first.failed) == (5, 0, 0, 0, ())
    assert first.chunks >= 5 and first.embedded == first.chunks  # the PDF's two short pages are one chunk
    calls = len(fake_embedder.calls)
    again = _ingest(folder, settings, fake_embedder)
    assert (again.added, again.updated, again.unchanged, again.embedded) == (0, 0, 5, 0)
    assert len(fake_embedder.calls) == calls, "no embedding call at all for an unchanged folder"
    assert again.chunks == first.chunks


def test_touched_but_identical_file_is_unchanged(folder, settings, fake_embedder):
    _ingest(folder, settings, fake_embedder)
    os.utime(folder / "a.txt", ns=(1, 1))
    summary = _ingest(folder, settings, fake_embedder)
    assert (summary.unchanged, summary.updated, summary.embedded) == (5, 0, 0)


def test_changed_file_replaces_its_chunks_and_deleted_file_is_removed(folder, settings, fake_embedder):
    _ingest(folder, settings, fake_embedder)
    (folder / "a.txt").write_text("apricots are orange")
    (folder / "sub" / "b.md").unlink()
    summary = _ingest(folder, settings, fake_embedder)
    assert (summary.updated, summary.removed, summary.unchanged) == (1, 1, 3)
    snap = open_snapshot(settings.index.path, "fake:hash", 32)
    sources = {c.source: [] for c in snap.store.by_rowids(range(1, 1000)).values()}
    texts = [c.text for c in snap.store.by_rowids(range(1, 1000)).values()]
    assert "sub/b.md" not in sources and "a.txt" in sources
    assert any("apricots" in t for t in texts) and not any("apples" in t for t in texts)
    assert snap.faiss_index.ntotal == snap.store.count() == summary.chunks
    snap.close()


def test_bad_inputs_are_skipped_with_reasons(folder, settings, fake_embedder):
    (folder / "bin.txt").write_bytes(b"\x00\x01\x02binary")
    (folder / "empty.md").write_text("   \n")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    (folder / "broken.docx").write_bytes(b"not a zip")
    (folder / "gone.txt").symlink_to(folder / "missing-target.txt")
    (folder / "big.txt").write_text("word " * 300_000)
    settings = settings.model_copy(update={"ingest": settings.ingest.model_copy(update={"max_file_mb": 1})})
    summary = _ingest(folder, settings, fake_embedder)
    reasons = {f.path: f.reason for f in summary.failed}
    assert set(reasons) == {"bin.txt", "empty.md", "broken.pdf", "broken.docx", "gone.txt", "big.txt"}
    assert "binary" in reasons["bin.txt"] and "empty" in reasons["empty.md"]
    assert "corrupt PDF" in reasons["broken.pdf"] and "corrupt DOCX" in reasons["broken.docx"]
    assert "broken link" in reasons["gone.txt"] and "too large" in reasons["big.txt"]
    assert summary.added == 5


def test_file_that_turns_corrupt_keeps_its_last_good_chunks(folder, settings, fake_embedder):
    first = _ingest(folder, settings, fake_embedder)
    (folder / "d.pdf").write_bytes(b"%PDF-1.4 now broken")
    summary = _ingest(folder, settings, fake_embedder)
    assert [f.path for f in summary.failed] == ["d.pdf"]
    assert summary.chunks == first.chunks


def test_missing_folder(settings, fake_embedder, tmp_path):
    with pytest.raises(NotFound):
        _ingest(tmp_path / "nope", settings, fake_embedder)


def test_resumed_ingest_reuses_cached_embeddings(folder, settings, fake_embedder):
    """A run that dies after embedding (before commit) leaves its vectors for the rerun."""
    index = settings.index
    with IndexWriter.open(index.path, fake_embedder.name, fake_embedder.dimension, index) as writer:
        writer.commit = lambda: (_ for _ in ()).throw(KeyboardInterrupt())  # killed at commit
        with pytest.raises(KeyboardInterrupt):
            ingest_folder(folder, writer, fake_embedder, settings.ingest)
    embedded_before = fake_embedder.embedded
    summary = _ingest(folder, settings, fake_embedder)
    assert summary.added == 5 and summary.embedded == 0
    assert fake_embedder.embedded == embedded_before


def test_service_search_ranks_the_matching_chunk_first(folder, settings, fake_embedder):
    rag = build_rag(settings, embedder=fake_embedder, tokenizer=shared_tokenizer())
    rag.ingest(folder)
    hits = rag.search("elderberries syrup", k=3)
    assert hits[0].chunk.source == "e.docx"
    assert hits[0].score >= hits[-1].score
    pdf_hit = rag.search("dates palm trees", k=1)[0]
    assert (pdf_hit.chunk.source, pdf_hit.chunk.page) == ("d.pdf", 1)
    rag.close()


def test_a_librarys_debug_lines_never_reach_the_terminal(folder, settings, fake_embedder):
    """bm25s sets its logger to DEBUG when imported: once anything has given the root logger a
    handler (a module-level ``logging.warning`` does), its "Building index from tokens" lines were
    printed between the progress lines of an ingest."""
    import io
    import logging

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logging.getLogger().addHandler(handler)
    try:
        rag = build_rag(settings, embedder=fake_embedder, tokenizer=shared_tokenizer())
        rag.ingest(folder)
        assert rag.search("anything", k=1, mode="bm25") is not None
    finally:
        logging.getLogger().removeHandler(handler)
    assert "bm25s" not in stream.getvalue() and "Building index" not in stream.getvalue(), stream.getvalue()
