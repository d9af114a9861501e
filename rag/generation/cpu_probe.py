"""How to run a model on this CPU, decided by measuring it: a short matmul probe, cached on disk.

CPU flags say what a CPU can do, not what is fastest: on a CPU with AVX512-BF16 a bf16 prompt
(many rows) is ~3x faster than fp32, while one decoded token is fastest from the packed int4
weights (fewest bytes read), which need the model loaded in fp32 to find their grids. So the two
phases are chosen apart:

- decode (one row): packed int4 when the weights come from a 4-bit file and the int4 kernel is the
  fastest of fp32 / bf16 / int4 here; else the faster of fp32 and bf16 for the whole model;
- prefill (many rows) of the packed layers: bf16 when it is clearly faster than fp32 here.

Example::

    choice = cpu_choice(quantized_file=True, linear_weights=106_000_000)   # probes once, then reads the cache
    choice.load_dtype, choice.pack, choice.prefill_dtype
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from foldrag.core.hardware import default_probe_dir, machine_key

log = logging.getLogger("foldrag.generation")

PROBE_VERSION = 1
# One decoder matmul of a 1.5B model (hidden 1536 -> MLP 8960), a prompt of 128 rows.
PROBE_IN, PROBE_OUT, PROMPT_ROWS = 1536, 8960, 128
BF16_PREFILL_MARGIN = 0.8  # bf16 prefill only when it takes under 80% of fp32's time
MAX_PROBE_LAYERS = 8


@dataclass(frozen=True)
class CpuTimings:
    """Milliseconds per matmul on this machine (best of several)."""

    decode_fp32: float
    decode_bf16: float
    decode_int4: float | None  # None: this torch has no int4 CPU kernel
    prefill_fp32: float
    prefill_bf16: float


@dataclass(frozen=True)
class CpuChoice:
    load_dtype: str  # "float32" | "bfloat16": how the weights are loaded
    pack: bool  # re-pack 4/8-bit grids into int4/int8 (needs an fp32 load)
    prefill_dtype: str  # dtype of the packed layers' many-row matmuls
    reason: str


def choose(timings: CpuTimings, quantized_file: bool) -> CpuChoice:
    """The fastest way to decode and to prefill, per phase, from measured ``timings``.

    ``quantized_file``: the weights come from a 4/8-bit file (a GGUF), so packing them is exact.
    """
    bf16_prefill = timings.prefill_bf16 < BF16_PREFILL_MARGIN * timings.prefill_fp32
    prefill = "bfloat16" if bf16_prefill else "float32"
    plain_best = min(timings.decode_fp32, timings.decode_bf16)
    if quantized_file and timings.decode_int4 is not None and timings.decode_int4 < plain_best:
        return CpuChoice("float32", True, prefill,
                         f"decode: int4 {timings.decode_int4:.2f} ms < fp32 {timings.decode_fp32:.2f} / "
                         f"bf16 {timings.decode_bf16:.2f} ms; prefill {prefill}: bf16 {timings.prefill_bf16:.1f} "
                         f"vs fp32 {timings.prefill_fp32:.1f} ms")
    whole = "bfloat16" if timings.decode_bf16 < timings.decode_fp32 and bf16_prefill else "float32"
    return CpuChoice(whole, False, whole,
                     f"full model in {whole}: decode bf16 {timings.decode_bf16:.2f} vs fp32 "
                     f"{timings.decode_fp32:.2f} ms, prefill bf16 {timings.prefill_bf16:.1f} vs fp32 "
                     f"{timings.prefill_fp32:.1f} ms")


def probe_layers(linear_weights: int) -> int:
    """How many probe matrices stand for a model with ``linear_weights`` weights in its linear layers:
    as many weights as the model (so each format fills the CPU's caches as the model would), at most
    ``MAX_PROBE_LAYERS`` (440 MB in fp32)."""
    return max(1, min(MAX_PROBE_LAYERS, round(linear_weights / (PROBE_IN * PROBE_OUT))))


def measure(layers: int, repeats: int = 3) -> CpuTimings:
    """Time the matmuls this module chooses between, per matrix, cycling through ``layers`` distinct
    matrices as a forward pass does (a few seconds)."""
    import torch
    import torch.nn.functional as F

    from foldrag.generation.packed_weights import GROUP, Grid, Int4Linear, kernels_available

    gen = torch.Generator().manual_seed(0)
    one, many = torch.randn(1, PROBE_IN, generator=gen), torch.randn(PROMPT_ROWS, PROBE_IN, generator=gen)

    def per_layer(weights, x, n: int) -> float:
        def run():
            for w in weights:
                w(x) if callable(w) else F.linear(x, w)
        run()
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            run()
            times.append(time.perf_counter() - t0)
        return min(times) * 1000 / len(weights)

    timings: dict[str, float | None] = {"decode_int4": None}
    with torch.inference_mode():
        fp32 = [torch.randn(PROBE_OUT, PROBE_IN, generator=gen) * 0.02 for _ in range(layers)]
        timings["decode_fp32"] = per_layer(fp32, one, 4 * repeats)
        timings["prefill_fp32"] = per_layer(fp32[:2], many, repeats)
        bf16 = [w.to(torch.bfloat16) for w in fp32]
        del fp32
        timings["decode_bf16"] = per_layer(bf16, one.to(torch.bfloat16), 4 * repeats)
        timings["prefill_bf16"] = per_layer(bf16[:2], many.to(torch.bfloat16), repeats)
        del bf16
        if kernels_available():
            scale = torch.full((PROBE_OUT, PROBE_IN // GROUP, 1), 0.01)
            int4 = [Int4Linear(Grid(torch.randint(0, 16, (PROBE_OUT, PROBE_IN // GROUP, GROUP), dtype=torch.uint8,
                                                  generator=gen), scale, -8 * scale, exact=True), None)
                    for _ in range(layers)]
            timings["decode_int4"] = per_layer(int4, one, 4 * repeats)
    return CpuTimings(**timings)


def cpu_choice(quantized_file: bool, linear_weights: int, cache_dir: Path | None = None) -> CpuChoice:
    """``choose`` on this machine's timings for a model of ``linear_weights`` linear-layer weights,
    measured once per machine and model size class and kept in ``cache_dir``."""
    timings = cached_timings(cache_dir or default_probe_dir(), probe_layers(linear_weights))
    choice = choose(timings, quantized_file)
    log.info("CPU choice: %s", choice.reason)
    return choice


def cached_timings(cache_dir: Path, layers: int, measure: Callable[[int], CpuTimings] = measure) -> CpuTimings:
    """The timings of this machine for ``layers`` probe matrices: read from ``cache_dir``, or measured
    once and written there."""
    import torch

    path = cache_dir / f"cpu-v{PROBE_VERSION}-{machine_key(torch.get_num_threads())}-{layers}.json"
    try:
        return CpuTimings(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        pass
    log.warning("measuring this CPU once for this model size (a few seconds); cached in %s", path)
    timings = measure(layers)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(timings)))
        os.replace(tmp, path)
    except OSError as exc:  # a read-only home still runs; it measures again next time
        log.warning("could not cache the CPU probe in %s: %s", cache_dir, exc)
    return timings
