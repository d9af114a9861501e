"""Which runtime embeds on this machine — torch, or the model's ONNX graph on onnxruntime or OpenVINO,
fp32 or int8 — decided by measuring, per phase, as the generator's CPU probe is
(``rag/generation/cpu_probe.py``).

``embedding.backend = auto`` times each runtime that is installed on the same probe texts, once per
machine and model (cached), and takes the fastest whose vectors stay within the quality bound of
torch fp32's (cosine mean >= 0.997, min >= 0.99); torch unless another is clearly faster. It does so
for each of the two phases, which favour different runtimes: an ingest embeds batches of chunks
(texts/s), a question embeds one short text (milliseconds of latency, where a runtime's per-call
overhead dominates: torch eager spent ~24 ms on one SciFact query where onnxruntime's fp32 graph spent
~8 ms, for the same vectors, on a 2-core EPYC). Each phase's runtime is within the bound of torch fp32,
so the vectors of both are interchangeable. On CUDA, torch. A runtime that is missing or cannot load
the graph is left out with a one-line reason.

Example::

    choice = choose_runtime(model_path, backend="auto", quantize="auto", device="cpu")
    choice.label, choice.query_label, choice.reason   # "torch", "onnx", "ingest: measured texts/s ..."
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# ``auto`` takes a runtime only this close to torch fp32's vectors on the probe texts: tighter than the
# bound for mixing vectors into an index (rag/core/contracts.py), because on SciFact an int8 graph at
# cosine mean 0.9956 / min 0.989 lost 0.0078 dense nDCG@10 (docs/BENCHMARKS.md) — more than the 0.005
# foldrag allows a runtime to cost. Such a runtime is still there to choose by name.
CHOICE_COSINE_MEAN, CHOICE_COSINE_MIN = 0.997, 0.99

log = logging.getLogger("foldrag.embedding")

PROBE_VERSION = 2  # 2: the query phase's latency
SPEEDUP_MARGIN = 1.1  # another runtime replaces torch only when at least this much faster

# Probe texts: chunk-like paragraphs in English and Korean, ~40 to ~250 tokens.
_SENTENCES = (
    "Reciprocal Rank Fusion adds one over sixty plus the rank of a document in each list it appears in.",
    "The FAISS index is written to a temporary folder and renamed into place when the ingest commits.",
    "Offloading places as many transformer layers on the GPU as fit in its memory and the rest on the CPU.",
    "Mitochondrial DNA mutations accumulate with age and were measured in muscle fibres of older adults.",
    "The committee approved the budget for the next fiscal year after a long debate about staffing.",
    "형태소 분석기는 문장을 형태소 단위로 나누고 각 형태소의 품사를 붙인다.",
    "서울은 대한민국의 수도이며 한강이 도시를 가로질러 흐른다.",
    "검색 증강 생성은 질문과 관련된 문서를 찾아 모델의 답변에 근거로 사용한다.",
)
PROBE_TEXTS = tuple(" ".join(_SENTENCES[(i + j) % len(_SENTENCES)] for j in range(1 + i % 8)) for i in range(32))
# Questions as a user types them: one is embedded at a time (multi-query sends a few together).
PROBE_QUESTIONS = (
    "How does GPU offload place layers?",
    "What does reciprocal rank fusion add up?",
    "Which mutations accumulate with age?",
    "When is the FAISS index renamed into place?",
    "형태소 분석기는 무엇을 하나요?",
    "대한민국의 수도는 어디인가?",
    "검색 증강 생성이란 무엇인가?",
    "What did the committee approve?",
)
QUERY_ROUNDS = 3


@dataclass(frozen=True)
class RuntimeChoice:
    """The runtime that embeds chunks (``backend``, ``quantized``: what an index records) and the one
    that embeds questions (``query_backend``/``query_quantized``; None: the same)."""

    backend: str  # "torch" | "onnx" | "openvino"
    quantized: bool
    reason: str
    query_backend: str | None = None
    query_quantized: bool = False

    @property
    def label(self) -> str:
        """What the manifest records: "torch", "onnx", "onnx-int8", "openvino", "openvino-int8"."""
        return _label(self.backend, self.quantized)

    @property
    def query(self) -> tuple[str, bool]:
        """(runtime, int8) that embeds questions."""
        if self.query_backend is None:
            return self.backend, self.quantized
        return self.query_backend, self.query_quantized

    @property
    def query_label(self) -> str:
        return _label(*self.query)


@dataclass(frozen=True)
class Measured:
    texts_per_s: float  # ingest phase: batches of chunk-like texts
    cosine_mean: float
    cosine_min: float
    query_ms: float  # query phase: one short question, median

    def good_enough(self) -> bool:
        return self.cosine_mean >= CHOICE_COSINE_MEAN and self.cosine_min >= CHOICE_COSINE_MIN


def candidates(backend: str, quantize: str, device: str) -> tuple[list[tuple[str, bool]], list[str]]:
    """The (runtime, int8) pairs the settings allow and this machine has, and why others are out."""
    from foldrag.embedding.onnx_encoder import runtime_missing

    if backend == "torch" or (backend == "auto" and device == "cuda"):
        return [("torch", False)], []
    runtimes = ["onnx", "openvino"] if backend == "auto" else [backend]
    quants = {"int8": [True], "off": [False], "auto": [False, True]}[quantize]
    pairs, notes = [], []
    for runtime in runtimes:
        missing = runtime_missing(runtime)
        if missing:
            notes.append(f"{runtime}: {missing}")
        else:
            pairs += [(runtime, q) for q in quants]
    if backend == "auto":
        pairs.insert(0, ("torch", False))
    return pairs, notes


def choose(measured: dict[str, Measured]) -> tuple[str, str]:
    """The label to ingest with and why, from the probe's figures (keyed by label). With "torch" among
    them (backend 'auto') it is the one to beat by SPEEDUP_MARGIN; else (a runtime named, quantization
    'auto') the runtime's fp32 graph is, which is always within the bound."""
    best = _fastest(measured, lambda m: m.texts_per_s)
    figures = ", ".join(f"{label} {m.texts_per_s:.0f}/s (cos {m.cosine_mean:.3f}/{m.cosine_min:.3f})"
                        for label, m in measured.items())
    return best, f"measured texts/s (cosine mean/min to torch fp32): {figures}"


def choose_query(measured: dict[str, Measured]) -> tuple[str, str]:
    """The label to embed questions with and why: the same rule on one question's latency."""
    best = _fastest(measured, lambda m: 1.0 / max(m.query_ms, 1e-6))
    figures = ", ".join(f"{label} {m.query_ms:.1f} ms" for label, m in measured.items())
    return best, f"measured ms per question: {figures}"


def _fastest(measured: dict[str, Measured], speed: Callable[[Measured], float]) -> str:
    base = "torch" if "torch" in measured else min(measured, key=len)  # "onnx" before "onnx-int8"
    best, best_speed = base, speed(measured[base]) * (SPEEDUP_MARGIN if base == "torch" else 1.0)
    for label, m in measured.items():
        if label != base and m.good_enough() and speed(m) > best_speed:
            best, best_speed = label, speed(m)
    return best


def choose_runtime(model_path: Path, *, backend: str, quantize: str, device: str,
                   encoders: Callable[[str, bool], object] | None = None,
                   cache_dir: Path | None = None,
                   clock: Callable[[], float] = time.perf_counter) -> RuntimeChoice:
    """What to run for ``model_path`` under these settings. ``encoders(runtime, int8)`` builds an
    object with ``encode`` (the probe's subjects) and ``clock`` (seconds) times them; tests pass
    fakes for both."""
    pairs, notes = candidates(backend, quantize, device)
    if not pairs:
        log.warning("embedding.backend=%s cannot run here (%s); using torch", backend, "; ".join(notes))
        return RuntimeChoice("torch", False, f"{backend} unavailable: {'; '.join(notes)}")
    if len(pairs) == 1:
        runtime, int8 = pairs[0]
        return RuntimeChoice(runtime, int8, f"set by embedding.backend={backend}, quantize={quantize}")
    from foldrag.core.hardware import cpu_threads, default_probe_dir, machine_key
    from foldrag.embedding.onnx_export import model_digest

    path = (cache_dir or default_probe_dir()) / f"embedder-v{PROBE_VERSION}-{machine_key(cpu_threads())}-{model_digest(model_path)[:16]}.json"
    measured = _read(path)
    wanted = {_label(r, q) for r, q in pairs}
    if measured is None or not wanted <= set(measured):
        log.warning("measuring the embedding runtimes once on this machine (%s); cached in %s",
                    ", ".join(sorted(wanted)), path)
        measured = probe(pairs, encoders, clock)
        _write(path, measured)
    measured = {label: m for label, m in measured.items() if label in wanted}
    label, bulk_reason = choose(measured)
    query_label, query_reason = choose_query(measured)
    reason = f"ingest: {bulk_reason}; questions: {query_reason}"
    if notes:
        reason += f"; left out: {'; '.join(notes)}"
    runtime, _, q = label.partition("-")
    query_runtime, _, query_q = query_label.partition("-")
    log.info("embedding runtime: %s, questions %s (%s)", label, query_label, reason)
    return RuntimeChoice(runtime, bool(q), reason, query_runtime, bool(query_q))


def probe(pairs: list[tuple[str, bool]], encoders: Callable[[str, bool], object],
          clock: Callable[[], float] = time.perf_counter) -> dict[str, Measured]:
    """Per runtime: texts/s over the probe's chunk-like texts (best of 2, after a warm-up), the median
    milliseconds of one question embedded alone (after a warm-up), and cosine to torch fp32's vectors
    of both; a runtime that fails to load or run is left out. ``clock()`` reads seconds."""
    texts, questions = list(PROBE_TEXTS), list(PROBE_QUESTIONS)
    torch_encoder = encoders("torch", False)
    reference = np.asarray(torch_encoder.encode(texts + questions, batch_size=32), dtype=np.float32)
    out: dict[str, Measured] = {}
    encoder = None
    for runtime, int8 in pairs:
        encoder = None  # the last runtime's session goes before the next one is built
        try:
            encoder = encoders(runtime, int8)
            vectors = np.asarray(encoder.encode(texts + questions, batch_size=32), dtype=np.float32)
            times = []
            for _ in range(2):
                t0 = clock()
                encoder.encode(texts, batch_size=32)
                times.append(clock() - t0)
            question_times = []
            for _ in range(QUERY_ROUNDS):
                for question in questions:
                    t0 = clock()
                    encoder.encode([question], batch_size=32)
                    question_times.append(clock() - t0)
        except Exception as exc:  # noqa: BLE001 - a runtime that fails here is not chosen; the reason is logged
            log.warning("embedding runtime %s failed its probe: %s: %s", _label(runtime, int8), type(exc).__name__, exc)
            continue
        cosines = np.sum(vectors * reference, axis=1)
        out[_label(runtime, int8)] = Measured(
            round(len(texts) / min(times), 1), round(float(cosines.mean()), 5), round(float(cosines.min()), 5),
            round(float(np.median(question_times[len(questions):])) * 1000, 2))
    return out


def _label(runtime: str, int8: bool) -> str:
    return runtime + ("-int8" if int8 else "")


def _read(path: Path) -> dict[str, Measured] | None:
    try:
        data = json.loads(path.read_text())
        if data.get("version") != PROBE_VERSION:
            return None
        return {label: Measured(**m) for label, m in data["runtimes"].items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def _write(path: Path, measured: dict[str, Measured]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp-{os.getpid()}")
        tmp.write_text(json.dumps({"version": PROBE_VERSION,
                                   "runtimes": {label: vars(m) for label, m in measured.items()}}))
        os.replace(tmp, path)
    except OSError as exc:  # a read-only home still runs; it measures again next time
        log.warning("could not cache the embedding probe in %s: %s", path, exc)
