"""The CLI as a user meets it: real bundled embedder, real subprocesses, exit codes and JSON."""

from __future__ import annotations

import json
import re
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO, run_cli

pytestmark = pytest.mark.slow


@pytest.fixture
def docs(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "fusion.md").write_text(
        "# Rank fusion\n\nReciprocal Rank Fusion merges ranked lists by summing 1/(k+rank).\n"
    )
    (folder / "gpu.txt").write_text("GPU offload puts decoder layers on the graphics card and the rest on the CPU.\n")
    (folder / "bad.pdf").write_bytes(b"%PDF-1.4 broken")
    return folder


def test_ingest_json_summary_and_search_json(docs, tmp_path):
    index = tmp_path / "idx"
    done = run_cli("ingest", str(docs), "--index", str(index), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert set(summary) >= {"added", "updated", "unchanged", "removed", "chunks", "seconds", "failed"}
    assert summary["added"] == 2 and summary["chunks"] == 2
    assert summary["failed"] == [{"path": "bad.pdf", "reason": summary["failed"][0]["reason"]}]
    assert "corrupt PDF" in summary["failed"][0]["reason"]
    assert "ingest:" in done.stderr, "plain progress lines when stderr is not a terminal"

    found = run_cli("search", "how are ranked lists merged", "--index", str(index), "-k", "2", "--json")
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)
    assert [set(h) for h in hits] == [{"id", "score", "text", "source", "page", "pages", "metadata"}] * 2
    assert hits[0]["source"] == "fusion.md" and hits[0]["score"] >= hits[1]["score"]

    human = run_cli("search", "graphics card layers", "--index", str(index), "-k", "1")
    assert human.returncode == 0 and "gpu.txt" in human.stdout

    traced = run_cli("search", "how are ranked lists merged", "--index", str(index), "-k", "1", "--trace")
    lines = traced.stdout.splitlines()
    assert "fusion: convex (minmax); dense weight en→ko 1, en→en 0.5 (BM25: the rest)" in lines
    hit = next(n for n, line in enumerate(lines) if line.startswith("1. ["))
    assert re.fullmatch(r"   dense #1: score [\d.]+ → [\d.]+ × weight 0\.50 = [\d.]+", lines[hit + 1]), lines
    assert re.fullmatch(r"   bm25 #1: score [\d.]+ → 1\.000 × weight 0\.50 = 0\.500", lines[hit + 2]), lines
    as_json = json.loads(run_cli("search", "how are ranked lists merged", "--index", str(index), "-k", "1",
                                 "--trace", "--json").stdout)
    [top] = as_json["trace"]["fused"][:1]
    assert {p["list"] for p in top["parts"]} == {"dense", "bm25"}
    assert top["score"] == pytest.approx(sum(p["contribution"] for p in top["parts"]), abs=1e-5)
    assert all(p["contribution"] == pytest.approx(p["normalised"] * p["weight"], abs=1e-5) for p in top["parts"])


def test_error_exit_codes_are_one_line(docs, tmp_path):
    missing = run_cli("ingest", str(tmp_path / "nope"), "--index", str(tmp_path / "i"))
    assert missing.returncode == 3 and missing.stderr.strip().count("\n") == 0
    assert "folder not found" in missing.stderr

    blocker = tmp_path / "file"
    blocker.write_text("x")
    unwritable = run_cli("ingest", str(docs), "--index", str(blocker / "idx"))
    assert unwritable.returncode == 5 and "cannot write index folder" in unwritable.stderr

    index = tmp_path / "idx"
    assert run_cli("ingest", str(docs), "--index", str(index)).returncode == 0
    manifest = next(index.glob("gen-*/manifest.json"))
    data = json.loads(manifest.read_text())
    data["embedder"] = "local:some-other-model"
    manifest.write_text(json.dumps(data))
    mismatch = run_cli("ingest", str(docs), "--index", str(index))
    assert mismatch.returncode == 4 and "built with embedder 'local:some-other-model'" in mismatch.stderr
    assert run_cli("search", "x", "--index", str(index)).returncode == 4

    assert run_cli("search", "x", "--index", str(tmp_path / "none")).returncode == 3


def test_settings_precedence_in_config(tmp_path):
    toml = tmp_path / "foldrag.toml"
    toml.write_text('[ingest]\nchunk_tokens = 111\nchunk_overlap = 11\n[embedding]\nbatch_size = 5\n')
    out = run_cli("config", env={"FOLDRAG_CONFIG": str(toml), "FOLDRAG_EMBEDDING__BATCH_SIZE": "9"})
    assert out.returncode == 0, out.stderr
    effective = json.loads(out.stdout)
    assert effective["ingest"]["chunk_tokens"] == 111  # toml over defaults
    assert effective["embedding"]["batch_size"] == 9  # environment over toml
    assert effective["index"]["path"].endswith("foldrag/index")
    assert effective["generation"]["backend"] == "auto"
    assert effective["resolved"]["generation"]["backend"] == "transformers"  # what 'auto' comes to
    resolved = effective["resolved"]["embedding"]
    assert {k: resolved[k] for k in ("backend", "questions", "reason")} == {
        "backend": "torch", "questions": "torch", "reason": "set by embedding.backend=torch, quantize=auto"}
    new = run_cli("config", env={"FOLDRAG_INDEX__PATH": str(tmp_path / "new-index")})
    assert json.loads(new.stdout)["resolved"]["embedding"]["model"] == "bundled:multilingual-e5-small"  # 'auto
    onnx = run_cli("config", env={"FOLDRAG_EMBEDDING__BACKEND": "onnx", "FOLDRAG_EMBEDDING__QUANTIZE": "int8"})
    assert json.loads(onnx.stdout)["resolved"]["embedding"]["backend"] == "onnx-int8"
    served = run_cli("config", env={"FOLDRAG_GENERATION__BASE_URL": "http://127.0.0.1:11434/v1"})
    assert json.loads(served.stdout)["resolved"]["generation"]["backend"] == "openai"
    no_ocr = json.loads(run_cli("config", env={"FOLDRAG_INGEST__OCR": "off"}).stdout)["resolved"]["ocr"]
    assert no_ocr == {"engine": "tesseract", "languages": "kor+eng", "available": False, "reason": "ingest.ocr is 'off'"}
    missing = json.loads(run_cli("config", env={"FOLDRAG_INGEST__OCR_LANGUAGES": "kor+xyz"}).stdout)["resolved"]["ocr"]
    assert missing["available"] is False and ("xyz" in missing["reason"] or "not installed" in missing["reason"])


def test_killed_ingest_leaves_last_good_index_and_rerun_completes(tmp_path):
    """SIGKILL in the middle of an ingest: the old index still opens; a rerun finishes the work."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "seed.txt").write_text("The seed document talks about lighthouses on rocky coasts.")
    index = tmp_path / "idx"
    assert run_cli("ingest", str(docs), "--index", str(index)).returncode == 0
    for i in range(150):
        (docs / f"file{i:03d}.txt").write_text(f"Document {i} covers topic number {i}. " + "filler text " * 20)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLDRAG_")}
    env["FOLDRAG_INGEST__ENCODE_GROUP"] = "16"
    proc = subprocess.Popen(
        [sys.executable, "-m", "foldrag.cli", "ingest", str(docs), "--index", str(index)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=REPO,
    )
    cache = index / "work" / "embeddings.sqlite"
    deadline = time.time() + 120
    cached = 0
    while time.time() < deadline and proc.poll() is None:
        try:
            with sqlite3.connect(cache) as conn:
                cached = conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
        except sqlite3.Error:
            cached = 0
        if cached >= 32:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the ingest finished before it could be killed; make the corpus larger"
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    still = run_cli("search", "lighthouses", "--index", str(index), "--json")
    assert still.returncode == 0, still.stderr
    assert json.loads(still.stdout)[0]["source"] == "seed.txt"

    rerun = run_cli("ingest", str(docs), "--index", str(index), "--json")
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert summary["added"] == 150 and summary["unchanged"] == 1 and summary["chunks"] == 151
    assert summary["embedded"] <= 150 - cached, "vectors embedded before the kill were reused"
    current = (index / "CURRENT").read_text().strip()
    with sqlite3.connect(index / current / "chunks.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM files").fetchone()[0] == 151


def test_examples_folder_covers_every_format():
    suffixes = {p.suffix for p in (REPO / "examples" / "docs").iterdir()}
    assert {".txt", ".md", ".html", ".pdf", ".docx", ".hwpx", ".xlsx"} <= suffixes


def test_ask_shows_its_stage_on_a_terminal_and_quotes_without_a_model(docs, tmp_path):
    """`ask` on a terminal says what it is doing before the answer; quote mode needs no model."""
    import pty

    index = str(tmp_path / "index")
    assert run_cli("ingest", str(docs), "--index", index, "-q").returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLDRAG_")}
    env.update(FOLDRAG_GENERATION__MODE="quote", FOLDRAG_GENERATION__MODEL="none")
    primary, secondary = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "foldrag.cli", "ask", "What does Reciprocal Rank Fusion sum?",
                             "--index", index], stdout=subprocess.PIPE, stderr=secondary, env=env, text=True)
    os.close(secondary)
    out, _ = proc.communicate(timeout=300)
    terminal = b""
    while True:
        try:
            data = os.read(primary, 4096)
        except OSError:
            break
        if not data:
            break
        terminal += data
    os.close(primary)
    assert proc.returncode == 0, terminal.decode(errors="replace")
    shown = terminal.decode(errors="replace")
    assert "retrieving…" in shown and "quoting…" in shown
    # the supporting sentences first, then the answer (quoting: the evidence alone)
    evidence, answer = out.split("\n\n", 1)
    assert evidence.splitlines()[:2] == [
        "Evidence:", "  [1] Reciprocal Rank Fusion merges ranked lists by summing 1/(k+rank).  (fusion.md)"]
    assert answer.startswith("Reciprocal Rank Fusion merges ranked lists by summing 1/(k+rank) [1].")
    assert "[1] fusion.md" in out and "answered by none (extractive)" in out


def test_ray_takes_an_optional_address():
    from foldrag.cli import RAY_HERE, optional_values

    assert optional_values(["ingest", "docs", "--ray"]) == ["ingest", "docs", "--ray", RAY_HERE]
    assert optional_values(["ingest", "docs", "--ray", "--quiet"]) == ["ingest", "docs", "--ray", RAY_HERE, "--quiet"]
    assert optional_values(["ingest", "docs", "--ray", "10.0.0.5:6379"]) == ["ingest", "docs", "--ray", "10.0.0.5:6379"]
    assert optional_values(["ingest", "docs"]) == ["ingest", "docs"]
