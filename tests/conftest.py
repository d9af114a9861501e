from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from tests.fakes import HashEmbedder  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
# Tests that run a real generator run the small bundled model by name: generation.model 'auto' would
# take the 1.5B when the demo has installed it.
SMOLLM = "bundled:SmolLM2-135M-Instruct"
# And embed with torch: embedding.backend 'auto' measures the machine and may take ONNX int8, whose
# vectors differ slightly; tests of the ONNX runtimes and of the choice name them (test_embedding_runtimes).
EMBED_BACKEND = "torch"
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def fake_embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture
def settings(tmp_path: Path, monkeypatch):
    """Settings isolated from the developer's foldrag.toml and FOLDRAG_* variables."""
    from foldrag.core.settings import Settings

    for key in list(os.environ):
        if key.startswith("FOLDRAG_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("FOLDRAG_CONFIG", str(tmp_path / "no-such-foldrag.toml"))
    return Settings.load(index={"path": tmp_path / "index"}, ingest={"chunk_tokens": 40, "chunk_overlap": 8},
                         generation={"model": SMOLLM}, embedding={"backend": EMBED_BACKEND})


@pytest.fixture(scope="session")
def real_embedder():
    """The bundled all-MiniLM-L6-v2 in fp32, loaded once per session (slow tests only). fp32 pinned:
    on a CPU with fast bf16, dtype 'auto' is bf16, and tests compare other runtimes to torch's fp32."""
    from foldrag.embedders import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder.load("bundled:all-MiniLM-L6-v2", device="cpu", dtype="float32")


@pytest.fixture(scope="session")
def generator():
    """The bundled SmolLM2 through the transformers backend, loaded once per session (slow tests only).

    fp32 pinned: tests check the exact int4/int8 re-pack of fp32 weights, which ``dtype='auto'``
    may skip on another CPU (the choice is measured: rag/generation/cpu_probe.py, tested apart)."""
    from foldrag.core.settings import GenerationSettings
    from foldrag.generation.transformers_backend import TransformersGenerator

    return TransformersGenerator.load(GenerationSettings(model=SMOLLM, device="cpu", transformers={"dtype": "float32"}))


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None):
    import subprocess

    full_env = {k: v for k, v in os.environ.items() if not k.startswith("FOLDRAG_")}
    full_env["FOLDRAG_GENERATION__MODEL"] = SMOLLM
    full_env["FOLDRAG_EMBEDDING__BACKEND"] = EMBED_BACKEND
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "foldrag.cli", *args], capture_output=True, text=True,
        env=full_env, cwd=cwd, timeout=600,
    )
