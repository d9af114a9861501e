"""An index that tells the truth and heals: every damaged file is found and named when the index is
opened, `foldrag check --repair` and the next ingest rebuild what can be rebuilt, a damaged chunk
store falls back to the previous generation's, and the server answers 503 for that collection only."""

from __future__ import annotations

import json
import sqlite3

import pytest
from fastapi.testclient import TestClient

from foldrag.api.app import create_app
from foldrag.indexes.folder import current_generation, open_snapshot
from foldrag.core.errors import IndexCorrupt
from tests.conftest import run_cli
from tests.fakes import HashEmbedder, LoopChat
from tests.server_support import make_collection, serve_settings, wait_ready, write_docs


@pytest.fixture
def built(tmp_path, settings):
    """An index of two generations (the docs, then one more file) and its Foldrag."""
    docs = write_docs(tmp_path / "docs")
    rag = make_collection(settings, HashEmbedder(), LoopChat(), docs)
    (docs / "extra.md").write_text("# Extra\n\nThe Seine flows through Paris.")
    rag.ingest(docs)
    return rag, docs


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garble(path):
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(b ^ 0xFF for b in data[middle:middle + 64])
    path.write_bytes(bytes(data))


def _drop_table(path):
    path.chmod(0o644)
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE files")


DAMAGE = {
    "truncate vectors": ("vectors.faiss", _truncate),
    "garble vectors (same size)": ("vectors.faiss", _garble),
    "delete a passages file": ("bm25/passages/owner.npy", lambda p: p.unlink()),
    "garble bm25 vocabulary": ("bm25/vocab.index.json", _garble),
    "truncate the chunk store": ("chunks.sqlite", _truncate),
    "garble the chunk store": ("chunks.sqlite", _garble),
    "drop a table of the chunk store": ("chunks.sqlite", _drop_table),
    "manifest of []": ("manifest.json", lambda p: p.write_text("[]")),
    "manifest deleted": ("manifest.json", lambda p: p.unlink()),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_damage_is_found_named_and_repaired_by_the_next_ingest(built, case):
    rag, docs = built
    name, hurt = DAMAGE[case]
    generation = current_generation(rag.index_path)
    hurt(generation / name)
    with pytest.raises(IndexCorrupt) as caught:
        open_snapshot(rag.index_path).close()
    message = str(caught.value)
    assert "\n" not in message and (name.split("/")[-1] in message or "manifest" in message), message
    assert rag.check_index().ok is False
    summary = rag.ingest(docs)  # the unchanged folder: it must still rewrite what is damaged
    assert not summary.failed
    assert rag.check_index().ok is True
    hits = rag.search("Seine Paris", k=3, mode="hybrid")
    assert hits and any(h.chunk.source == "extra.md" for h in hits)


@pytest.mark.parametrize("case", list(DAMAGE))
def test_check_repair_rebuilds_without_the_folder(built, case):
    rag, _ = built
    name, hurt = DAMAGE[case]
    hurt(current_generation(rag.index_path) / name)
    report = rag.check_index(repair=True)
    assert report.repaired and not report.ok
    assert rag.check_index().ok is True
    assert rag.search("capital of France", k=3, mode="hybrid")
    if name == "chunks.sqlite":
        assert report.restored_from and "ingest the folder again" in report.note


def test_check_cli_exit_codes_and_one_line(built):
    rag, _ = built
    index = str(rag.index_path)
    assert run_cli("check", "--index", index).returncode == 0
    _garble(current_generation(rag.index_path) / "vectors.faiss")
    damaged = run_cli("check", "--index", index)
    assert damaged.returncode == 6 and "vectors.faiss: content changed" in damaged.stdout
    search = run_cli("search", "France", "--index", index, "--mode", "bm25")
    assert search.returncode == 6 and search.stderr.count("\n") == 1 and "vectors.faiss" in search.stderr
    repaired = run_cli("check", "--index", index, "--repair", "--json")
    assert repaired.returncode == 0 and json.loads(repaired.stdout)["repaired"]
    assert run_cli("check", "--index", index).returncode == 0


def test_a_damaged_collection_is_503_and_the_others_answer(tmp_path, settings):
    good = make_collection(serve_settings(settings), HashEmbedder(), LoopChat(), write_docs(tmp_path / "docs"))
    other = settings.model_copy(update={"index": settings.index.model_copy(update={"path": tmp_path / "other"})})
    bad = make_collection(serve_settings(other), HashEmbedder(), LoopChat(), write_docs(tmp_path / "docs2"))
    _garble(current_generation(bad.index_path) / "vectors.faiss")
    with TestClient(create_app(serve_settings(settings), {"good": good, "bad": bad})) as client:
        wait_ready(client)
        broken = client.post("/v1/retrieve", json={"query": "France", "collection": "bad"})
        assert broken.status_code == 503 and "vectors.faiss" in broken.json()["error"]["message"]
        assert client.post("/v1/retrieve", json={"query": "France", "collection": "good"}).status_code == 200


def test_every_file_truncated_garbled_or_deleted_is_detected_and_repaired(built, tmp_path):
    """The whole matrix: each file of a generation × three kinds of damage, on a fresh copy."""
    import shutil

    from foldrag.build import build_rag

    rag, _ = built
    pristine = tmp_path / "pristine"
    shutil.copytree(rag.index_path, pristine)
    files = sorted(p.relative_to(pristine / current_generation(pristine).name).as_posix()
                   for p in current_generation(pristine).rglob("*") if p.is_file())
    assert len(files) >= 15
    kinds = {"truncated": _truncate, "garbled": _garble, "deleted": lambda p: p.unlink()}
    detected = repaired = 0
    for name in files:
        for kind, hurt in kinds.items():
            root = tmp_path / "case"
            shutil.rmtree(root, ignore_errors=True)
            shutil.copytree(pristine, root)
            hurt(current_generation(root) / name)
            case = build_rag(rag.settings.model_copy(update={"index": rag.settings.index.model_copy(update={"path": root})}),
                             embedder=rag.load_embedder(), tokenizer=rag.tokenizer)
            with pytest.raises(IndexCorrupt) as caught:
                open_snapshot(root).close()
            assert name.split("/")[-1] in str(caught.value) and "\n" not in str(caught.value), (name, kind)
            detected += 1
            assert case.check_index(repair=True).repaired, (name, kind)
            assert case.check_index().ok and case.search("Paris", k=2, mode="hybrid"), (name, kind)
            repaired += 1
    assert detected == repaired == 3 * len(files)
