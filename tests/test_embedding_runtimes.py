"""The embedder's runtimes: the ONNX export (cached, atomic), onnxruntime and OpenVINO encoders against
torch, the measured choice, and the check before another runtime's vectors join an index."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rag.core.errors import IndexMismatch, ModelUnavailable
from rag.embedding import onnx_export
from rag.embedding.runtime_choice import Measured, candidates, choose, choose_runtime
from tests.fakes import HashEmbedder
from tests.server_support import make_collection, write_docs

TEXTS = ["How does GPU offload place layers?", "서울은 대한민국의 수도이다.",
         "  Reciprocal Rank Fusion sums one over k plus rank.  ", "a " * 300]


# The choice, from figures


def test_the_fastest_runtime_within_the_quality_bound_is_chosen():
    torch = Measured(100, 1.0, 1.0)
    label, reason = choose({"torch": torch, "onnx": Measured(120, 1.0, 1.0), "onnx-int8": Measured(250, 0.998, 0.995)})
    assert label == "onnx-int8" and "onnx-int8 250/s" in reason and "torch 100/s" in reason
    # Faster but too far from torch's vectors: not taken.
    assert choose({"torch": torch, "onnx-int8": Measured(300, 0.995, 0.99)})[0] == "torch"  # SciFact lost 0.008
    assert choose({"torch": torch, "onnx-int8": Measured(300, 0.998, 0.985)})[0] == "torch"
    # Within the noise of torch's rate: torch stays.
    assert choose({"torch": torch, "onnx": Measured(105, 1.0, 1.0)})[0] == "torch"
    # A runtime named with quantize 'auto': its int8 graph only when within the bound and faster.
    assert choose({"onnx": Measured(100, 1.0, 1.0), "onnx-int8": Measured(150, 0.995, 0.99)})[0] == "onnx"
    assert choose({"onnx": Measured(100, 1.0, 1.0), "onnx-int8": Measured(150, 0.998, 0.995)})[0] == "onnx-int8"


def test_candidates_follow_the_settings_and_what_is_installed(monkeypatch):
    from rag.embedding import onnx_encoder

    monkeypatch.setattr(onnx_encoder, "runtime_missing", lambda r: "openvino is not installed" if r == "openvino" else None)
    pairs, notes = candidates("auto", "auto", "cpu")
    assert pairs == [("torch", False), ("onnx", False), ("onnx", True)] and notes == ["openvino: openvino is not installed"]
    assert candidates("auto", "auto", "cuda") == ([("torch", False)], [])
    assert candidates("onnx", "int8", "cpu") == ([("onnx", True)], [])
    assert candidates("openvino", "off", "cpu") == ([], ["openvino: openvino is not installed"])


class _Encoder:
    """Vectors near a fixed direction; ``noise`` turns them away from it."""

    def __init__(self, noise: float) -> None:
        self.noise = noise

    def encode(self, texts, batch_size=32):
        rng = np.random.default_rng(len(texts))
        base = np.ones((len(texts), 8), np.float32) + np.arange(8, dtype=np.float32)
        out = base + self.noise * rng.standard_normal(base.shape).astype(np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_the_probe_runs_once_per_machine_and_model_and_a_missing_runtime_falls_back(tmp_path, monkeypatch):
    from rag.embedding import onnx_encoder

    monkeypatch.setattr(onnx_encoder, "runtime_missing", lambda r: None)
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    built = []

    def encoders(runtime, int8):
        built.append((runtime, int8))
        return _Encoder(3.0 if runtime == "openvino" else 0.0)

    choice = choose_runtime(model, backend="auto", quantize="auto", device="cpu", encoders=encoders, cache_dir=tmp_path)
    assert built and {r for r, _ in built} == {"torch", "onnx", "openvino"}
    assert "openvino" in choice.reason and "cos" in choice.reason
    [cached] = tmp_path.glob("embedder-*.json")
    figures = json.loads(cached.read_text())["runtimes"]
    assert figures["openvino"]["cosine_mean"] < 0.99 and figures["onnx"]["cosine_min"] > 0.999
    built.clear()
    again = choose_runtime(model, backend="auto", quantize="auto", device="cpu", encoders=encoders, cache_dir=tmp_path)
    assert built == [] and again.reason == choice.reason, "the cached figures were measured again"
    # A runtime named in settings but not installed: torch, with the reason.
    monkeypatch.setattr(onnx_encoder, "runtime_missing", lambda r: "openvino is not installed")
    fallback = choose_runtime(model, backend="openvino", quantize="off", device="cpu", encoders=encoders, cache_dir=tmp_path)
    assert fallback.label == "torch" and "openvino is not installed" in fallback.reason


# The export and the runtimes, on the bundled MiniLM


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from rag.embedders import resolve_model_path

    path = resolve_model_path("bundled:all-MiniLM-L6-v2")
    return path, onnx_export.export_onnx(path, tmp_path_factory.mktemp("embedders"))


@pytest.mark.slow
def test_the_export_is_cached_by_the_model_files_and_never_half_written(exported, monkeypatch, tmp_path):
    path, files = exported
    assert files.model(False).stat().st_size > 0 and files.model(True).stat().st_size < files.model(False).stat().st_size
    assert files.folder.name.endswith(files.digest[:16]) and files.dimension == 384 and files.max_seq_length == 256
    monkeypatch.setattr(onnx_export, "_export", lambda *a: pytest.fail("exported again"))
    assert onnx_export.export_onnx(path, files.folder.parent) == files
    # A failed export leaves neither the folder nor its temporary copy, and says why in one line.

    def broken(model_path, out):
        (out / "model.onnx").write_bytes(b"half")
        raise RuntimeError("the exporter broke")

    monkeypatch.setattr(onnx_export, "_export", broken)
    with pytest.raises(ModelUnavailable, match="could not export .* the exporter broke"):
        onnx_export.export_onnx(path, tmp_path)
    assert list(tmp_path.iterdir()) == []


def _cosines(a, b):
    return np.sum(a * b, axis=1)


@pytest.mark.slow
@pytest.mark.parametrize("runtime", ["onnx", "openvino"])
def test_onnx_runtimes_give_torchs_vectors(exported, real_embedder, runtime):
    from rag.embedding.onnx_encoder import OnnxEncoder, runtime_missing

    if runtime_missing(runtime):
        pytest.skip(runtime_missing(runtime))
    _, files = exported
    reference = real_embedder.embed(TEXTS)
    fp32 = OnnxEncoder.load(files, runtime=runtime, quantized=False, threads=1).encode(TEXTS, batch_size=2)
    assert _cosines(fp32, reference).min() > 0.9999, "the fp32 graph is not the torch model"
    assert np.allclose(np.linalg.norm(fp32, axis=1), 1.0, atol=1e-4)
    int8 = OnnxEncoder.load(files, runtime=runtime, quantized=True, threads=1).encode(TEXTS, batch_size=3)
    assert _cosines(int8, reference).mean() > 0.98


@pytest.mark.slow
def test_the_embedder_runs_a_named_runtime_and_says_which(exported, monkeypatch):
    from rag.embedders import SentenceTransformerEmbedder

    monkeypatch.setattr(onnx_export, "default_cache_dir", lambda: exported[1].folder.parent)
    embedder = SentenceTransformerEmbedder.load("bundled:all-MiniLM-L6-v2", device="cpu", backend="onnx", quantize="int8")
    assert embedder.backend == "onnx-int8" and embedder.name == "bundled:all-MiniLM-L6-v2"
    vectors = embedder.embed(TEXTS)
    query = embedder.embed(["GPU offload"], query=True)
    assert vectors.shape == (4, 384) and query.shape == (1, 384) and vectors.dtype == np.float32
    assert embedder.token_length("two words") == 2


# Another runtime's vectors joining an index


class _Shifted(HashEmbedder):
    """The same texts, vectors turned away from the hash embedder's by ``angle``."""

    def __init__(self, angle: float, backend: str) -> None:
        super().__init__(backend=backend)
        self.angle = angle

    def embed(self, texts, *, query=False):
        base = super().embed(texts, query=query)
        other = np.roll(base, 1, axis=1)
        other -= np.sum(other * base, axis=1, keepdims=True) * base
        other /= np.linalg.norm(other, axis=1, keepdims=True)
        return (np.cos(self.angle) * base + np.sin(self.angle) * other).astype(np.float32)


def test_another_runtimes_vectors_join_only_within_the_bound(tmp_path, settings):
    from indexes.folder import newest_manifest

    docs = write_docs(tmp_path / "docs")
    make_collection(settings, HashEmbedder(backend="torch"), None, docs)
    root = settings.index.path
    assert newest_manifest(root).embedder_backend == "torch"
    (docs / "new.md").write_text("# New\n\nA new file embedded by another runtime.\n", encoding="utf-8")
    # Within the bound (cosine 0.999): the ingest goes on, and the index records the new runtime.
    make_collection(settings, _Shifted(0.045, "onnx-int8"), None, docs)
    manifest = newest_manifest(root)
    assert manifest.embedder_backend == "onnx-int8" and manifest.files == 4
    # Far from it (cosine 0.95): refused, saying what to do, and the index is as it was.
    (docs / "other.md").write_text("# Other\n\nNot to be mixed.\n", encoding="utf-8")
    with pytest.raises(IndexMismatch, match="made by onnx-int8; openvino-int8 vectors differ .*embedding.backend"):
        make_collection(settings, _Shifted(0.32, "openvino-int8"), None, docs)
    assert newest_manifest(root).generation == manifest.generation
