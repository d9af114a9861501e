"""Files that are not files: FIFOs, devices, links out of the folder, unreadable folders, reads past
the size limit, and a second writer — each refused with a reason, none read, nothing hangs."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from foldrag.indexes.folder import IndexWriter
from foldrag.ingest.errors import ParseError
from foldrag.ingest.pipeline import ingest_folder
from foldrag.ingest.reading import read_regular
from foldrag.ingest.walk import discover
from foldrag.core.errors import IndexBusy
from tests.conftest import run_cli


def _ingest(folder, settings, embedder, **ingest):
    settings = settings.model_copy(update={"ingest": settings.ingest.model_copy(update=ingest)})
    with IndexWriter.open(settings.index.path, embedder.name, embedder.dimension, settings.index) as writer:
        return ingest_folder(folder, writer, embedder, settings.ingest)


@pytest.fixture
def hostile(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ok.txt").write_text("apples grow on trees")
    os.mkfifo(docs / "pipe.txt")
    (docs / "zero.txt").symlink_to("/dev/zero")
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "passwd.txt").write_text("root:x:0:0 secret line")
    (docs / "passwd.txt").symlink_to(outside / "passwd.txt")
    (docs / "etc").symlink_to(outside, target_is_directory=True)
    (docs / "inner.txt").symlink_to(docs / "ok.txt")  # a link that stays inside is a file like any other
    return docs


def test_only_regular_files_inside_the_folder_are_read(hostile, settings, fake_embedder):
    done = []
    worker = threading.Thread(target=lambda: done.append(_ingest(hostile, settings, fake_embedder)), daemon=True)
    worker.start()
    worker.join(60)
    assert done, "ingest hung (a FIFO read blocks forever)"
    summary = done[0]
    reasons = {f.path: f.reason for f in summary.failed}
    assert reasons == {
        "pipe.txt": "not a regular file (a FIFO)",
        "zero.txt": "link to a file outside the ingested folder (--follow-links follows it)",
        "passwd.txt": "link to a file outside the ingested folder (--follow-links follows it)",
        "etc/": "link to a folder outside the ingested folder (--follow-links follows it)",
    }
    assert summary.added == 2  # ok.txt and inner.txt


def test_follow_links_reads_linked_files_but_never_devices(hostile, settings, fake_embedder):
    summary = _ingest(hostile, settings, fake_embedder, follow_links=True)
    reasons = {f.path: f.reason for f in summary.failed}
    assert reasons == {"pipe.txt": "not a regular file (a FIFO)", "zero.txt": "not a regular file (a character device)"}
    assert summary.added == 4  # ok, inner, passwd and etc/passwd.txt


def test_reads_stop_at_the_limit_and_refuse_what_is_not_a_file(tmp_path):
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * 5000)
    assert read_regular(big, 5000) == b"x" * 5000
    with pytest.raises(ParseError, match="too large: more than"):
        read_regular(big, 4096)
    with pytest.raises(ParseError, match="character device"):
        read_regular(Path("/dev/zero"), 10)
    os.mkfifo(tmp_path / "p.txt")
    with pytest.raises(ParseError, match="FIFO"):
        read_regular(tmp_path / "p.txt", 10)  # returns at once: opened without blocking


def test_an_unreadable_folder_is_reported(tmp_path, monkeypatch):
    (tmp_path / "open").mkdir()
    (tmp_path / "open" / "a.txt").write_text("a")
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "b.txt").write_text("b")
    real = os.scandir

    def scandir(path="."):
        if os.fspath(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    entries = {e.rel: e.problem for e in discover(tmp_path, include=["**/*"], exclude=[])}
    assert entries == {"open/a.txt": None, "locked/": "unreadable folder: Permission denied"}


def test_a_second_ingest_is_refused_before_any_model_loads(tmp_path, settings):
    index = tmp_path / "index"
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("a")
    index.mkdir()
    IndexWriter.check_free(index)  # free: no error
    holder = IndexWriter.open(index, "e", 4, settings.index)
    try:
        with pytest.raises(IndexBusy):
            IndexWriter.check_free(index)
        out = run_cli("ingest", str(docs), "--index", str(index), env={"FOLDRAG_EMBEDDING__MODEL": "/nonexistent/model"})
        # busy is reported, not the missing embedder: the lock was checked before the model load
        assert out.returncode == 7 and "another foldrag process is writing" in out.stderr, out.stderr  # index_busy
    finally:
        holder.close()


@pytest.mark.slow
def test_cli_lists_skipped_entries_and_follows_links_when_asked(hostile, tmp_path):
    import json

    plain = run_cli("ingest", str(hostile), "--index", str(tmp_path / "i1"), "--json")
    assert plain.returncode == 0, plain.stderr
    failed = {f["path"]: f["reason"] for f in json.loads(plain.stdout)["failed"]}
    assert set(failed) == {"pipe.txt", "zero.txt", "passwd.txt", "etc/"}
    followed = run_cli("ingest", str(hostile), "--index", str(tmp_path / "i2"), "--follow-links", "--json")
    assert followed.returncode == 0, followed.stderr
    report = json.loads(followed.stdout)
    assert {f["path"] for f in report["failed"]} == {"pipe.txt", "zero.txt"} and report["added"] == 4
