"""The embedder's runtimes: the ONNX export (cached, atomic), onnxruntime and OpenVINO encoders against
torch, the measured choice, and the check before another runtime's vectors join an index."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from foldrag.core.errors import IndexMismatch, ModelUnavailable
from foldrag.embedding import onnx_export
from foldrag.embedding.runtime_choice import Measured, candidates, choose, choose_query, choose_runtime
from tests.fakes import HashEmbedder
from tests.server_support import make_collection, write_docs

TEXTS = ["How does GPU offload place layers?", "서울은 대한민국의 수도이다.",
         "  Reciprocal Rank Fusion sums one over k plus rank.  ", "a " * 300]


# The choice, from figures


def test_the_fastest_runtime_within_the_quality_bound_is_chosen():
    torch = Measured(100, 1.0, 1.0, 20.0)
    label, reason = choose({"torch": torch, "onnx": Measured(120, 1.0, 1.0, 8.0),
                            "onnx-int8": Measured(250, 0.998, 0.995, 6.0)})
    assert label == "onnx-int8" and "onnx-int8 250/s" in reason and "torch 100/s" in reason
    # Faster but too far from torch's vectors: not taken.
    assert choose({"torch": torch, "onnx-int8": Measured(300, 0.995, 0.99, 5.0)})[0] == "torch"  # SciFact lost 0.008
    assert choose({"torch": torch, "onnx-int8": Measured(300, 0.998, 0.985, 5.0)})[0] == "torch"
    # Within the noise of torch's rate: torch stays.
    assert choose({"torch": torch, "onnx": Measured(105, 1.0, 1.0, 20.0)})[0] == "torch"
    # A runtime named with quantize 'auto': its int8 graph only when within the bound and faster.
    assert choose({"onnx": Measured(100, 1.0, 1.0, 8.0), "onnx-int8": Measured(150, 0.995, 0.99, 5.0)})[0] == "onnx"
    assert choose({"onnx": Measured(100, 1.0, 1.0, 8.0), "onnx-int8": Measured(150, 0.998, 0.995, 5.0)})[0] == "onnx-int8"


def test_questions_and_chunks_are_each_given_their_fastest_runtime():
    # This EPYC's shape (docs/BENCHMARKS.md): torch is as fast as any runtime on batches of chunks,
    # onnxruntime's fp32 graph three times faster on one question; int8 faster still but out of bound.
    measured = {"torch": Measured(14.3, 1.0, 1.0, 23.9), "onnx": Measured(12.9, 1.0, 1.0, 8.1),
                "onnx-int8": Measured(14.9, 0.9957, 0.9897, 6.9)}
    assert choose(measured)[0] == "torch"
    label, reason = choose_query(measured)
    assert label == "onnx" and "torch 23.9 ms" in reason and "onnx 8.1 ms" in reason
    # Within the noise of torch's latency: torch stays for questions too.
    assert choose_query({"torch": Measured(14.3, 1.0, 1.0, 10.0), "onnx": Measured(12.9, 1.0, 1.0, 9.5)})[0] == "torch"
    # A runtime faster at both takes both.
    both = {"torch": Measured(10, 1.0, 1.0, 20.0), "openvino": Measured(30, 0.999, 0.998, 4.0)}
    assert choose(both)[0] == choose_query(both)[0] == "openvino"


def test_candidates_follow_the_settings_and_what_is_installed(monkeypatch):
    from foldrag.embedding import onnx_encoder

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
    from foldrag.embedding import onnx_encoder

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


class _Clock:
    """Seconds that pass only when a fake runtime says its work took them."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _Timed(_Encoder):
    """Vectors (exact unless ``noise``), with a cost per call and per text charged to ``clock``:
    torch-like eager runtimes pay more per call, graph runtimes more per text on this kind of CPU."""

    def __init__(self, clock: _Clock, per_call_s: float, per_text_s: float, noise: float = 0.0) -> None:
        super().__init__(noise)
        self.clock, self.per_call_s, self.per_text_s = clock, per_call_s, per_text_s

    def encode(self, texts, batch_size=32):
        self.clock.now += self.per_call_s + self.per_text_s * len(texts)
        return super().encode(texts, batch_size)


def test_the_probe_times_questions_alone_and_the_embedder_asks_the_faster_runtime(tmp_path, monkeypatch):
    from foldrag.embedders import SentenceTransformerEmbedder
    from foldrag.embedding import onnx_encoder
    from foldrag.embedding.runtime_choice import PROBE_TEXTS

    monkeypatch.setattr(onnx_encoder, "runtime_missing", lambda r: "openvino is not installed" if r == "openvino" else None)
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    clock = _Clock()
    made = {("torch", False): _Timed(clock, 0.02, 0.0002), ("onnx", False): _Timed(clock, 0.002, 0.001),
            ("onnx", True): _Timed(clock, 0.001, 0.0001, noise=3.0)}  # fastest at both, out of bound
    choice = choose_runtime(model, backend="auto", quantize="auto", device="cpu",
                            encoders=lambda r, q: made[(r, q)], cache_dir=tmp_path, clock=clock)
    assert (choice.label, choice.query_label) == ("torch", "onnx"), choice.reason
    assert "ingest: measured texts/s" in choice.reason and "questions: measured ms per question" in choice.reason
    [cached] = tmp_path.glob("embedder-*.json")
    figures = json.loads(cached.read_text())["runtimes"]
    # The figures are the costs charged to the clock: a question alone is one call of one text, the
    # ingest phase one call of all the probe's texts.
    assert figures["onnx"]["query_ms"] == pytest.approx(3.0) and figures["torch"]["query_ms"] == pytest.approx(20.2)
    n = len(PROBE_TEXTS)
    assert figures["torch"]["texts_per_s"] == pytest.approx(n / (0.02 + 0.0002 * n), abs=0.1)
    assert figures["onnx"]["texts_per_s"] == pytest.approx(n / (0.002 + 0.001 * n), abs=0.1)
    # The embedder sends questions to the question runtime, chunks to the other.
    calls = []

    class Recording(_Encoder):
        def __init__(self, label):
            super().__init__(0.0)
            self.label = label
            self.tokenizer = None

        def get_embedding_dimension(self):
            return 8

        def encode(self, texts, **_):
            calls.append((self.label, len(texts)))
            return super().encode(texts)

    embedder = SentenceTransformerEmbedder(Recording("torch"), "m", tokenizer=object(), backend="torch",
                                           query_model=Recording("onnx"), query_backend="onnx")
    embedder.embed(["a question"], query=True)
    embedder.embed(["chunk one", "chunk two"])
    assert calls == [("onnx", 1), ("torch", 2)] and embedder.query_backend == "onnx" and embedder.backend == "torch"
    alone = SentenceTransformerEmbedder(Recording("torch"), "m", tokenizer=object(), backend="torch")
    assert alone.query_backend == "torch"


class _Built:
    """Stands in for the runtimes' encoders: records which were built, and each encode."""

    def __init__(self, fail: tuple = ()) -> None:
        self.built: list[tuple[str, bool]] = []
        self.encoded: list[str] = []
        self.path = Path("/nonexistent/model")  # no prompts there
        self._fail = fail

    def __call__(self, runtime: str, int8: bool):
        if (runtime, int8) in self._fail:
            raise ModelUnavailable(f"{runtime} cannot run here")
        self.built.append((runtime, int8))
        recorder = self

        class Encoder(_Encoder):
            tokenizer = None

            def get_embedding_dimension(self):
                return 8

            def encode(self, texts, **_):
                recorder.encoded.append(runtime)
                return super().encode(texts)

        return Encoder(0.0)


def _load_with(encoders: _Built, choice):
    from foldrag.embedders import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder.from_runtimes("bundled:all-MiniLM-L6-v2", encoders, choice)


def test_torch_is_built_only_when_chunks_are_embedded_if_questions_run_elsewhere():
    # A process that only searches or answers (foldrag search/ask, a server that never ingests) never
    # builds torch: `foldrag search` took 6-7 s and 460 MB instead of 13 s and 650 MB (2026-12-02).
    from foldrag.embedding.runtime_choice import RuntimeChoice

    encoders = _Built()
    embedder = _load_with(encoders, RuntimeChoice("torch", False, "measured", query_backend="onnx"))
    assert encoders.built == [("onnx", False)] and (embedder.backend, embedder.query_backend) == ("torch", "onnx")
    embedder.embed(["a question"], query=True)
    assert encoders.built == [("onnx", False)] and embedder.dimension == 8
    embedder.embed(["chunk one", "chunk two"])
    embedder.embed(["chunk three"])
    assert encoders.built == [("onnx", False), ("torch", False)]  # once
    assert encoders.encoded == ["onnx", "torch", "torch"]


def test_questions_are_answered_while_torch_is_being_built_for_a_first_ingest():
    import threading

    from foldrag.embedding.runtime_choice import RuntimeChoice

    building, release = threading.Event(), threading.Event()

    class SlowTorch(_Built):
        def __call__(self, runtime, int8):
            if runtime == "torch":
                building.set()
                release.wait(10)  # until the question is answered (or 10 s: the test then fails)
            return super().__call__(runtime, int8)

    encoders = SlowTorch()
    embedder = _load_with(encoders, RuntimeChoice("torch", False, "measured", query_backend="onnx"))
    ingest = threading.Thread(target=embedder.embed, args=(["chunk one"],))
    ingest.start()
    assert building.wait(10)
    asked = threading.Thread(target=lambda: (embedder.embed(["a question"], query=True), release.set()))
    asked.start()
    asked.join(30)
    ingest.join(30)
    assert encoders.encoded == ["onnx", "torch"]  # the question first, while torch was being built


def test_questions_fall_back_to_torch_built_at_once_when_their_runtime_cannot_load():
    from foldrag.embedding.runtime_choice import RuntimeChoice

    encoders = _Built(fail=(("onnx", False),))
    embedder = _load_with(encoders, RuntimeChoice("torch", False, "measured", query_backend="onnx"))
    assert encoders.built == [("torch", False)] and embedder.query_backend == "torch"
    embedder.embed(["a question"], query=True)
    assert encoders.encoded == ["torch"]
    # A chunk runtime that cannot load falls back to torch, for both phases.
    encoders = _Built(fail=(("onnx", True),))
    embedder = _load_with(encoders, RuntimeChoice("onnx", True, "named"))
    assert encoders.built == [("torch", False)] and (embedder.backend, embedder.query_backend) == ("torch", "torch")


# The export and the runtimes, on the bundled MiniLM


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from foldrag.embedders import resolve_model_path

    path = resolve_model_path("bundled:all-MiniLM-L6-v2")
    return path, onnx_export.export_onnx(path, tmp_path_factory.mktemp("embedders"))


@pytest.mark.slow
def test_the_export_is_cached_by_the_model_files_and_never_half_written(exported, tmp_path):
    path, files = exported
    assert files.model(False).stat().st_size > 0 and files.model(True).stat().st_size < files.model(False).stat().st_size
    assert files.folder.name.endswith(files.digest[:16]) and files.dimension == 384 and files.max_seq_length == 256
    assert onnx_export.export_onnx(path, files.folder.parent, exporter=lambda *a: pytest.fail("exported again")) == files
    # A failed export leaves neither the folder nor its temporary copy, and says why in one line.

    def broken(model_path, out):
        (out / "model.onnx").write_bytes(b"half")
        raise RuntimeError("the exporter broke")

    with pytest.raises(ModelUnavailable, match="could not export .* the exporter broke"):
        onnx_export.export_onnx(path, tmp_path, exporter=broken)
    assert list(tmp_path.iterdir()) == []


def _cosines(a, b):
    return np.sum(a * b, axis=1)


@pytest.mark.slow
@pytest.mark.parametrize("runtime", ["onnx", "openvino"])
def test_onnx_runtimes_give_torchs_vectors(exported, real_embedder, runtime):
    from foldrag.embedding.onnx_encoder import OnnxEncoder, runtime_missing

    if runtime_missing(runtime):
        pytest.skip(runtime_missing(runtime))
    _, files = exported
    reference = real_embedder.embed(TEXTS)
    fp32 = OnnxEncoder.load(files, runtime=runtime, quantized=False, threads=1).encode(TEXTS, batch_size=2)
    assert _cosines(fp32, reference).min() > 0.9999, "the fp32 graph is not the torch model"
    assert np.allclose(np.linalg.norm(fp32, axis=1), 1.0, atol=1e-4)
    int8 = OnnxEncoder.load(files, runtime=runtime, quantized=True, threads=1).encode(TEXTS, batch_size=3)
    assert _cosines(int8, reference).mean() > 0.98


def test_onnxruntime_sessions_do_not_spin_between_questions():
    # A spinning pool kept both cores busy after each question and halved the speed of the FAISS and
    # BM25 searches that follow it (docs/BENCHMARKS.md, "Retrieval speed").
    from foldrag.embedding.onnx_encoder import runtime_missing, session_options

    if runtime_missing("onnx"):
        pytest.skip(runtime_missing("onnx"))
    options = session_options(2)
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == (2, 1)


@pytest.mark.slow
def test_the_embedder_runs_a_named_runtime_and_says_which(exported, monkeypatch):
    from foldrag.embedders import SentenceTransformerEmbedder

    monkeypatch.setattr(onnx_export, "default_cache_dir", lambda: exported[1].folder.parent)
    embedder = SentenceTransformerEmbedder.load("bundled:all-MiniLM-L6-v2", device="cpu", backend="onnx", quantize="int8")
    assert embedder.backend == "onnx-int8" and embedder.name == "bundled:all-MiniLM-L6-v2"
    vectors = embedder.embed(TEXTS)
    query = embedder.embed(["GPU offload"], query=True)
    assert vectors.shape == (4, 384) and query.shape == (1, 384) and vectors.dtype == np.float32
    assert embedder.token_length("two words") == 2


@pytest.mark.slow
def test_the_onnx_runtimes_tokenize_as_transformers_does_without_importing_it(exported):
    import subprocess
    import sys

    from transformers import AutoTokenizer

    from foldrag.embedding.onnx_encoder import OnnxEncoder
    from foldrag.embedding.runtime_choice import PROBE_QUESTIONS, PROBE_TEXTS

    _, files = exported
    encoder = OnnxEncoder.load(files, runtime="onnx", quantized=False, threads=1)
    reference = AutoTokenizer.from_pretrained(str(files.folder), local_files_only=True)
    batches = [TEXTS, list(PROBE_TEXTS), list(PROBE_QUESTIONS), ["짧다", "word " * 400, "  Mixed 한국어 and English  "]]
    for texts in batches:
        ours = encoder._tokenize(texts)
        theirs = reference([t.strip().lower() for t in texts], padding=True, truncation="longest_first",
                           max_length=files.max_seq_length, return_tensors="np")
        for name in files.inputs:
            assert np.array_equal(ours[name], theirs[name]), name
    assert ours["input_ids"].shape[1] == files.max_seq_length  # the long text was cut, the others padded
    # A search on the ONNX runtime loads neither transformers nor torch (~3.5 s of a one-shot search).
    script = ("import sys; from pathlib import Path; from foldrag.embedding.onnx_export import OnnxFiles; "
              "from foldrag.embedding.onnx_encoder import OnnxEncoder; "
              f"e = OnnxEncoder.load(OnnxFiles.read(Path({str(files.folder)!r})), runtime='onnx', quantized=False, threads=1); "
              "e.encode(['GPU offload']); print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


@pytest.mark.slow
def test_auto_loads_the_question_runtime_the_probe_chose_and_its_vectors_are_torchs(exported, monkeypatch, tmp_path):
    # The figures of this EPYC's probe (torch for chunks, onnxruntime fp32 for questions), cached where
    # 'auto' reads them: loading wires both runtimes, and a question's vector is torch's.
    from foldrag.core import hardware
    from foldrag.embedders import SentenceTransformerEmbedder
    from foldrag.embedding import runtime_choice

    path, files = exported
    monkeypatch.setattr(onnx_export, "default_cache_dir", lambda: files.folder.parent)
    monkeypatch.setattr(hardware, "default_probe_dir", lambda: tmp_path)
    installed = runtime_choice.candidates  # OpenVINO left out: these figures are onnxruntime's
    monkeypatch.setattr(runtime_choice, "candidates", lambda backend, quantize, device: (
        ([("torch", False), ("onnx", False), ("onnx", True)], []) if backend == "auto" else installed(backend, quantize, device)))
    figures = {"torch": Measured(13.6, 1.0, 1.0, 30.3), "onnx": Measured(12.5, 1.0, 1.0, 6.2),
               "onnx-int8": Measured(14.0, 0.9917, 0.9837, 3.9)}
    probe = tmp_path / f"embedder-v{runtime_choice.PROBE_VERSION}-{hardware.machine_key(hardware.cpu_threads())}-{files.digest[:16]}.json"
    runtime_choice._write(probe, figures)
    # fp32 pinned: on a CPU with fast bf16, dtype 'auto' makes torch bf16, and the point is the same vectors
    embedder = SentenceTransformerEmbedder.load("bundled:all-MiniLM-L6-v2", device="cpu", backend="auto", dtype="float32")
    assert (embedder.backend, embedder.query_backend) == ("torch", "onnx")
    torch_only = SentenceTransformerEmbedder.load("bundled:all-MiniLM-L6-v2", device="cpu", backend="torch", dtype="float32")
    assert torch_only.query_backend == "torch"
    question = ["How does GPU offload place layers?", "대한민국의 수도는 어디인가?"]
    assert _cosines(embedder.embed(question, query=True), torch_only.embed(question, query=True)).min() > 0.9999
    assert _cosines(embedder.embed(TEXTS), torch_only.embed(TEXTS)).min() > 0.99999  # chunks: torch itself


# Another runtime's vectors joining an index


class _Shifted(HashEmbedder):
    """The same texts, vectors turned away from the hash embedder's by ``angle``."""

    def __init__(self, angle: float, backend: str) -> None:
        super().__init__(backend=backend)
        self.angle = angle

    def embed(self, texts, *, query=False, urgent=None):
        base = super().embed(texts, query=query)
        other = np.roll(base, 1, axis=1)
        other -= np.sum(other * base, axis=1, keepdims=True) * base
        other /= np.linalg.norm(other, axis=1, keepdims=True)
        return (np.cos(self.angle) * base + np.sin(self.angle) * other).astype(np.float32)


def test_another_runtimes_vectors_join_only_within_the_bound(tmp_path, settings):
    from foldrag.indexes.folder import newest_manifest

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
