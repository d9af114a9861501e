"""The one error table: every kind foldrag raises, its exit code and HTTP status, and the copy in docs/cli.md;
a full disk during an ingest is one of its kinds, and loses nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from foldrag.core import errors
from foldrag.core.errors import ERROR_TABLE, FoldragError, NoSpace, error_table_markdown
from tests.conftest import REPO
from tests.fakes import HashEmbedder
from tests.server_support import shared_tokenizer, write_docs


def test_the_docs_print_the_table_as_it_is():
    assert error_table_markdown() in (REPO / "docs" / "cli.md").read_text(encoding="utf-8")


def test_every_error_class_has_a_row_and_codes_are_unique():
    kinds = {cls.kind for cls in vars(errors).values()
             if isinstance(cls, type) and issubclass(cls, FoldragError) and cls is not FoldragError}
    assert kinds <= set(ERROR_TABLE) and kinds | {"internal"} == set(ERROR_TABLE)
    codes = [spec.exit_code for spec in ERROR_TABLE.values()]
    assert len(codes) == len(set(codes))
    assert (NoSpace("x").spec.exit_code, NoSpace("x").spec.http_status) == (17, 507)


def test_a_no_space_error_is_a_507_over_http():
    from foldrag.api.errors import error_response

    response = error_response(NoSpace("the disk holding /idx is full"))
    assert response.status_code == 507
    assert b'"type":"no_space"' in response.body


@pytest.fixture
def small_disk(tmp_path):
    """A 16 MB filesystem of its own (tmpfs; needs root, as the CI machine runs the tests)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _fill(disk: Path, leave_kb: int) -> None:
    """Fill ``disk`` until ``leave_kb`` KB are free."""
    free = shutil.disk_usage(disk).free
    with open(disk / "filler", "wb") as handle:
        handle.write(b"\0" * max(0, free - leave_kb * 1024))


def test_an_ingest_into_a_full_disk_is_one_error_and_keeps_the_last_index(small_disk, settings, tmp_path):
    from foldrag.build import build_rag

    index = small_disk / "index"
    own = settings.model_copy(update={"index": settings.index.model_copy(update={"path": index})})
    rag = build_rag(own, embedder=HashEmbedder(), tokenizer=shared_tokenizer())
    first = write_docs(tmp_path / "docs", {"france.md": "# France\n\nThe capital of France is Paris."})
    rag.ingest(first)
    for n in range(100):
        (first / f"note{n:03d}.md").write_text(f"# Note {n}\n\n" + f"word{n} lighthouse harbour " * 60)
    _fill(small_disk, leave_kb=64)
    with pytest.raises(NoSpace, match="full") as caught:
        rag.ingest(first)
    assert caught.value.kind == "no_space"
    assert not list(index.glob("gen-*.tmp")), "the half-written generation is removed"
    (small_disk / "filler").unlink()
    assert rag.check_index().ok  # the last good index is intact
    assert [h.chunk.source for h in rag.search("capital of France", k=1)] == ["france.md"]
    summary = rag.ingest(first)  # with space again, the same ingest finishes
    assert summary.added == 100 and rag.check_index().ok
