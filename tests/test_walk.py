from __future__ import annotations

import os

from foldrag.ingest.parsers import ingested_suffixes
from foldrag.ingest.walk import discover


def _names(folder, **kw):
    kw.setdefault("include", ["**/*"])
    kw.setdefault("exclude", [])
    return [e.rel for e in discover(folder, **kw) if e.problem is None]


def _touch(path, text="x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_recursive_supported_only_hidden_skipped(tmp_path):
    for rel in ["a.txt", "sub/b.md", "sub/deep/c.pdf", "img.png", "x.exe", ".hidden/d.txt", "sub/.e.md",
                "보고서.hwp", "s.HWPX", "deck.pptx", "book.xlsx"]:
        _touch(tmp_path / rel)
    assert _names(tmp_path) == ["a.txt", "book.xlsx", "deck.pptx", "img.png", "s.HWPX", "보고서.hwp",
                                "sub/b.md", "sub/deep/c.pdf"]
    # With OCR off, image files are not part of the folder's documents at all.
    assert "img.png" not in _names(tmp_path, suffixes=ingested_suffixes("off"))
    assert "img.png" in _names(tmp_path, suffixes=ingested_suffixes("auto"))


def test_include_exclude_globs(tmp_path):
    for rel in ["a.txt", "notes/b.md", "notes/draft/c.md", "x.html"]:
        _touch(tmp_path / rel)
    assert _names(tmp_path, include=["**/*.md"]) == ["notes/b.md", "notes/draft/c.md"]
    assert _names(tmp_path, exclude=["notes/draft/*"]) == ["a.txt", "x.html", "notes/b.md"]


def test_index_folder_inside_is_skipped(tmp_path):
    _touch(tmp_path / "a.txt")
    _touch(tmp_path / "myindex" / "gen-000001" / "notes.txt")
    assert _names(tmp_path, skip=(tmp_path / "myindex",)) == ["a.txt"]


def test_symlink_loop_terminates(tmp_path):
    _touch(tmp_path / "docs" / "a.txt")
    os.symlink(tmp_path / "docs", tmp_path / "docs" / "loop")
    os.symlink(tmp_path, tmp_path / "docs" / "up")
    assert _names(tmp_path) == ["docs/a.txt"]
