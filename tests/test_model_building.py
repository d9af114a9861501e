"""Models are built one at a time in a process (rag/core/lazy.py ``MODEL_BUILDING``): transformers
builds under process-wide state, and two models built at once from two threads came out broken."""

from __future__ import annotations

import threading

import pytest

from foldrag.core.lazy import MODEL_BUILDING
from foldrag.core.settings import Settings
from tests.conftest import SMOLLM


def _in_two_threads(first, second) -> list[BaseException]:
    """Run ``first`` and ``second`` in two threads released together (a barrier), so both ask for a
    model at once; the errors they raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run(work):
        try:
            start.wait()
            work()
        except BaseException as exc:  # handed to the test, which fails on it
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(work,)) for work in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return errors


def _held_by_another_thread() -> bool:
    """Whether a thread other than the caller holds ``MODEL_BUILDING`` now: another thread tries to
    take it without waiting (the lock is re-entrant, so the caller itself could always take it)."""
    taken: list[bool] = []

    def attempt():
        got = MODEL_BUILDING.acquire(blocking=False)
        if got:
            MODEL_BUILDING.release()
        taken.append(got)

    probe = threading.Thread(target=attempt)
    probe.start()
    probe.join()
    return not taken[0]


def test_the_embedder_generator_and_reranker_are_never_built_at_once(monkeypatch, tmp_path):
    # Deterministic, not a race widened by sleeping: each loader checks that the one process-wide lock
    # is held while it builds (so no other model can be built meanwhile), and records any overlap.
    import foldrag.build as build
    import foldrag.generation.backends as backends
    import foldrag.retrieval.rerank as rerank

    building: list[str] = []
    overlaps: list[tuple[str, ...]] = []
    unlocked: list[str] = []

    def guarded_build(name):
        def load(*args, **kwargs):
            building.append(name)
            if len(building) > 1:
                overlaps.append(tuple(building))
            if not _held_by_another_thread():
                unlocked.append(name)
            building.remove(name)
            return object()
        return load

    monkeypatch.setattr(build.SentenceTransformerEmbedder, "load", guarded_build("embedder"))
    monkeypatch.setattr(backends, "load_generator", guarded_build("generator"))
    monkeypatch.setattr(rerank.CrossEncoderReranker, "load", guarded_build("reranker"))
    settings = Settings.load(index={"path": tmp_path / "index"}, generation={"model": SMOLLM},
                             retrieval={"reranker_model": "some/cross-encoder"})
    rag = build.build_rag(settings, with_generator=True)
    assert _in_two_threads(rag.load_embedder, rag.load_generator) == []
    rag = build.build_rag(settings, with_generator=True)
    assert _in_two_threads(lambda: build.build_reranker(settings), rag.load_embedder) == []
    assert unlocked == [], f"built without holding MODEL_BUILDING: {unlocked}"
    assert overlaps == [] and building == []


@pytest.mark.slow
def test_the_real_embedder_and_llm_load_together_from_two_threads(tmp_path):
    # Without the lock this failed: the embedder built while the LLM loaded came out with meta
    # tensors ("Cannot copy out of meta tensor"; 2026-12-02).
    from foldrag.build import build_rag

    settings = Settings.load(index={"path": tmp_path / "index"}, generation={"model": SMOLLM, "device": "cpu"},
                             embedding={"backend": "torch", "device": "cpu", "dtype": "float32"})  # bf16 CPUs: auto is bf16
    rag = build_rag(settings, with_generator=True)
    assert _in_two_threads(rag.load_generator, rag.load_embedder) == []
    vectors = rag.load_embedder().embed(["GPU offload places layers"])
    assert vectors.shape == (1, 384) and abs(float((vectors ** 2).sum()) - 1.0) < 1e-4
    assert rag.load_generator().count_tokens("hello") > 0
