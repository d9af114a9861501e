"""The Ray ingest engine on a real local cluster (a head node and a second node on 127.0.0.1): the
index it builds equals a local ingest's — ids, texts, metadata, files, vectors within 1e-4 —
through an update and a deletion, with an embedding worker killed mid-job (retried, or a clean
failure that leaves the last good index and a re-run that finishes it), and from the CLI."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest

from foldrag.indexes.folder import IndexWriter, open_snapshot
from foldrag.ingest.pipeline import ingest_folder
from foldrag.core.errors import ClusterUnavailable
from tests.conftest import run_cli

ray = pytest.importorskip("ray", reason="the Ray engine is the extra foldrag[ray]")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    """Two Ray nodes of one CPU each: the two embedding actors land one on each node."""
    from ray.cluster_utils import Cluster

    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "object_store_memory": 150 * 2**20})
    nodes.add_node(num_cpus=1, object_store_memory=150 * 2**20)
    ray.init(address=nodes.address, log_to_driver=False)
    try:
        assert len([n for n in ray.nodes() if n["Alive"]]) == 2
        yield nodes
    finally:
        ray.shutdown()
        nodes.shutdown()


def _write_notes(folder: Path, count: int, start: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + count):
        (folder / f"note-{i:03d}.md").write_text(
            f"# Note {i}\n\nPlant {i} grows in soil type {i % 7} and needs {i * 3} millilitres of water a day.\n\n"
            f"## Care\n\nPrune plant {i} in month {i % 12 + 1}; it flowers after {i % 5 + 2} years.\n")
    (folder / "empty.txt").write_text("")


def _ingest(folder, settings, embedder, index, *, engine: str, progress=None, **ingest):
    options = settings.ingest.model_copy(update={"engine": engine, **ingest})
    with IndexWriter.open(index, embedder.name, embedder.dimension, settings.index,
                          backend=embedder.backend) as writer:
        return ingest_folder(folder, writer, embedder, options, progress=progress)


def _contents(index: Path):
    snap = open_snapshot(index)
    try:
        rowids, vectors = snap.store.vectors(384)
        chunks = snap.store.by_rowids([int(r) for r in rowids])
        by_id = {chunks[int(r)].id: (chunks[int(r)], v) for r, v in zip(rowids, vectors)}
        return by_id, snap.store.files(), snap.manifest.chunks
    finally:
        snap.close()


def _assert_same(a: Path, b: Path) -> None:
    left, left_files, left_n = _contents(a)
    right, right_files, right_n = _contents(b)
    assert left_n == right_n and sorted(left) == sorted(right)
    assert {k: c for k, (c, _) in left.items()} == {k: c for k, (c, _) in right.items()}  # text, metadata
    assert {s: (r.sha256, r.chunks) for s, r in left_files.items()} == \
        {s: (r.sha256, r.chunks) for s, r in right_files.items()}
    worst = max(float(np.abs(left[k][1] - right[k][1]).max()) for k in left)
    assert worst <= 1e-4


def _counts(summary):
    return summary.added, summary.updated, summary.unchanged, summary.removed, summary.chunks, \
        [f.path for f in summary.failed]


def test_ray_ingest_equals_local_through_update_and_delete(cluster, settings, real_embedder, tmp_path):
    docs = tmp_path / "docs"
    _write_notes(docs, 12)
    local = _ingest(docs, settings, real_embedder, tmp_path / "local", engine="local")
    on_ray = _ingest(docs, settings, real_embedder, tmp_path / "ray", engine="ray")
    assert _counts(local) == _counts(on_ray) and on_ray.added == 12 and on_ray.failed[0].path == "empty.txt"
    _assert_same(tmp_path / "local", tmp_path / "ray")

    (docs / "note-003.md").write_text("# Note 3\n\nPlant 3 was moved to the greenhouse in winter.\n")
    (docs / "note-007.md").unlink()
    _write_notes(docs, 2, start=40)
    os.utime(docs / "note-005.md", ns=(1, 1))  # touched, same content: not re-embedded anywhere
    local = _ingest(docs, settings, real_embedder, tmp_path / "local", engine="local")
    on_ray = _ingest(docs, settings, real_embedder, tmp_path / "ray", engine="ray")
    assert _counts(local) == _counts(on_ray)
    assert (on_ray.added, on_ray.updated, on_ray.removed) == (2, 1, 1) and on_ray.unchanged == 10
    _assert_same(tmp_path / "local", tmp_path / "ray")

    again = _ingest(docs, settings, real_embedder, tmp_path / "ray", engine="ray", ray_files="shared")
    assert (again.added, again.updated, again.embedded) == (0, 0, 0)


def test_shared_files_mode_reads_on_the_workers(cluster, settings, real_embedder, tmp_path):
    docs = tmp_path / "docs"
    _write_notes(docs, 5)
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    local = _ingest(docs, settings, real_embedder, tmp_path / "local", engine="local")
    shared = _ingest(docs, settings, real_embedder, tmp_path / "ray", engine="ray", ray_files="shared")
    assert _counts(local) == _counts(shared) and "broken.pdf" in [f.path for f in shared.failed]
    _assert_same(tmp_path / "local", tmp_path / "ray")


def _embed_worker_pids() -> list[int]:
    """Processes of the embedding actors (Ray titles them after the actor class)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                title = (entry / "cmdline").read_bytes().split(b"\0")[0]
            except OSError:
                continue
            if title.startswith(b"ray::_EmbedWorker"):
                pids.append(int(entry.name))
    return pids


class KillOnFirstFile:
    """A progress that kills embedding worker processes (SIGKILL) once the first file is indexed."""

    def __init__(self, everyone: bool) -> None:
        self.everyone = everyone
        self.killed: list[int] = []

    def start(self, total_files: int) -> None: ...

    def advance(self, files: int, chunks: int) -> None:
        if chunks and not self.killed:
            pids = _embed_worker_pids()
            for pid in pids if self.everyone else pids[:1]:
                os.kill(pid, signal.SIGKILL)
                self.killed.append(pid)

    def note(self, text: str) -> None: ...

    def close(self) -> None: ...


def test_a_killed_worker_is_retried_and_the_index_is_the_same(cluster, settings, real_embedder, tmp_path):
    docs = tmp_path / "docs"
    _write_notes(docs, 60)
    killer = KillOnFirstFile(everyone=False)
    on_ray = _ingest(docs, settings, real_embedder, tmp_path / "ray", engine="ray", encode_group=4,
                     ray_retries=2, progress=killer)
    assert killer.killed, "no embedding worker was running to kill"
    local = _ingest(docs, settings, real_embedder, tmp_path / "local", engine="local")
    assert _counts(local) == _counts(on_ray)
    _assert_same(tmp_path / "local", tmp_path / "ray")


def test_workers_dead_past_their_retries_leave_the_last_good_index(cluster, settings, real_embedder, tmp_path):
    docs = tmp_path / "docs"
    _write_notes(docs, 3)
    first = _ingest(docs, settings, real_embedder, tmp_path / "ray", engine="ray")
    before = _contents(tmp_path / "ray")
    _write_notes(docs, 60, start=100)
    killer = KillOnFirstFile(everyone=True)
    with pytest.raises(ClusterUnavailable, match="retries .* ran out; the index is unchanged"):
        _ingest(docs, settings, real_embedder, tmp_path / "ray", engine="ray", encode_group=4, ray_retries=0,
                progress=killer)
    assert killer.killed
    after = _contents(tmp_path / "ray")
    assert sorted(after[0]) == sorted(before[0]) and after[2] == first.chunks  # the last good generation

    finished = _ingest(docs, settings, real_embedder, tmp_path / "ray", engine="ray", encode_group=4)
    assert finished.added == 60 and finished.embedded < finished.chunks - first.chunks  # the cache kept work
    _ingest(docs, settings, real_embedder, tmp_path / "local", engine="local")
    _assert_same(tmp_path / "local", tmp_path / "ray")


def test_cli_ingests_on_the_cluster_at_an_address(cluster, tmp_path):
    docs = tmp_path / "docs"
    _write_notes(docs, 4)
    done = run_cli("ingest", str(docs), "--index", str(tmp_path / "ray"), "--ray", cluster.address, "--quiet",
                   "--json", env={"FOLDRAG_INGEST__CHUNK_TOKENS": "40", "FOLDRAG_INGEST__CHUNK_OVERLAP": "8"})
    assert done.returncode == 0, done.stderr
    assert '"added": 4' in done.stdout
    local = run_cli("ingest", str(docs), "--index", str(tmp_path / "local"), "--quiet",
                    env={"FOLDRAG_INGEST__CHUNK_TOKENS": "40", "FOLDRAG_INGEST__CHUNK_OVERLAP": "8"})
    assert local.returncode == 0, local.stderr
    _assert_same(tmp_path / "local", tmp_path / "ray")


def test_an_unreachable_cluster_is_a_one_line_error(tmp_path):
    docs = tmp_path / "docs"
    _write_notes(docs, 1)
    done = run_cli("ingest", str(docs), "--index", str(tmp_path / "idx"), "--ray", "127.0.0.1:9", "--quiet",
                   env={"RAY_ADDRESS": ""})
    assert done.returncode == 16, done.stderr
    assert done.stderr.startswith("foldrag: error: cannot reach the Ray cluster (127.0.0.1:9)")
    assert "Traceback" not in done.stderr
