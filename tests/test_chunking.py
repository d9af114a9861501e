from __future__ import annotations

from foldrag.ingest.chunking import chunk_file, embedding_text, make_splitter
from foldrag.core.types import ParsedFile, Section


def _words(n, prefix="w"):
    return " ".join(f"{prefix}{i}" for i in range(n))


def _split(text, size=20, overlap=5, page=None, title=None):
    parsed = ParsedFile("doc.md", (Section(text, page=page),), title=title)
    return chunk_file(parsed, make_splitter(lambda t: len(t.split()), size, overlap))


def test_chunks_respect_token_budget_and_overlap():
    chunks = _split(_words(100), size=20, overlap=5)
    assert len(chunks) >= 5
    assert all(len(c.text.split()) <= 20 for c in chunks)
    for a, b in zip(chunks, chunks[1:]):
        assert set(a.text.split()[-3:]) & set(b.text.split()), "neighbours share overlapping words"


def test_offsets_point_into_section_text():
    text = "# Title\n\n" + _words(30, "a") + "\n\n## Part two\n\n" + _words(30, "b")
    for c in _split(text):
        assert text[c.start : c.end] == c.text


def test_headings_stay_with_their_paragraphs():
    text = "# Guide\n\nintro words here\n\n## Install\n\nrun the installer now\n\n## Usage\n\ncall the tool"
    chunks = _split(text, size=8, overlap=0, title="Guide")
    by_heading = {c.heading: c.text for c in chunks}
    assert by_heading["Install"].startswith("## Install")
    assert "run the installer now" in by_heading["Install"]
    assert by_heading["Usage"].startswith("## Usage") and "call the tool" in by_heading["Usage"]
    assert all(c.title == "Guide" for c in chunks)


def test_heading_only_chunks_are_dropped():
    chunks = _split("# Lonely title\n\n## Section\n\n" + _words(18), size=20, overlap=0)
    assert all(not c.text.startswith("# Lonely") or len(c.text.splitlines()) > 1 for c in chunks)
    assert any("w17" in c.text for c in chunks)


def test_ids_are_stable_content_hashes_and_unique():
    text = "same line\n\nsame line\n\nother"
    a, b = _split(text, size=2, overlap=0), _split(text, size=2, overlap=0)
    assert [c.id for c in a] == [c.id for c in b]
    assert len({c.id for c in a}) == len(a)
    changed = _split(text + " more", size=2, overlap=0)
    assert changed[0].id == a[0].id and changed[-1].id != a[-1].id


def test_pages_are_kept():
    parsed = ParsedFile("d.pdf", (Section("one two", page=1), Section("three four", page=2)))
    chunks = chunk_file(parsed, make_splitter(lambda t: len(t.split()), 10, 0))
    assert [(c.page, c.text) for c in chunks] == [(1, "one two"), (2, "three four")]


def test_embedding_text_adds_title_and_heading():
    chunk = _split("## Install\n\nrun it", title="Guide")[0]
    assert embedding_text(chunk, True) == "Guide\n## Install\n\nrun it"
    assert embedding_text(chunk, False) == "## Install\n\nrun it"
