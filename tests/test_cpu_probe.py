"""The CPU choice per phase, from faked timings (both CPU kinds tested on either), and its cache."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from foldrag.generation.cpu_probe import CpuTimings, cached_timings, choose, probe_layers
from foldrag.generation.packed_weights import GROUP, Int4Linear, fit_grid

# Measured shapes of the two CPU kinds of this project's machines (ms per probe matmul).
AVX2_ONLY = CpuTimings(decode_fp32=4.7, decode_bf16=9.0, decode_int4=2.0, prefill_fp32=75.0, prefill_bf16=160.0)
NATIVE_BF16 = CpuTimings(decode_fp32=1.9, decode_bf16=1.3, decode_int4=0.4, prefill_fp32=17.5, prefill_bf16=2.7)


def test_gguf_on_a_cpu_without_fast_bf16_packs_and_keeps_fp32_prompts():
    choice = choose(AVX2_ONLY, quantized_file=True)
    assert (choice.load_dtype, choice.pack, choice.prefill_dtype) == ("float32", True, "float32")


def test_gguf_on_a_cpu_with_fast_bf16_packs_and_runs_prompts_in_bf16():
    choice = choose(NATIVE_BF16, quantized_file=True)
    assert (choice.load_dtype, choice.pack, choice.prefill_dtype) == ("float32", True, "bfloat16")
    assert "int4" in choice.reason


def test_a_full_precision_model_takes_the_faster_dtype_whole():
    assert (choose(NATIVE_BF16, quantized_file=False).load_dtype, choose(NATIVE_BF16, False).pack) == ("bfloat16", False)
    assert choose(AVX2_ONLY, quantized_file=False).load_dtype == "float32"


def test_no_packing_when_the_int4_kernel_is_missing_or_slower():
    no_kernel = CpuTimings(**{**NATIVE_BF16.__dict__, "decode_int4": None})
    slow_kernel = CpuTimings(**{**NATIVE_BF16.__dict__, "decode_int4": 5.0})
    for timings in (no_kernel, slow_kernel):
        choice = choose(timings, quantized_file=True)
        assert not choice.pack and choice.load_dtype == "bfloat16"


def test_bf16_prompts_only_when_clearly_faster():
    close = CpuTimings(**{**NATIVE_BF16.__dict__, "prefill_bf16": 0.9 * NATIVE_BF16.prefill_fp32})
    assert choose(close, quantized_file=True).prefill_dtype == "float32"


def test_the_probe_runs_once_per_machine_and_size(tmp_path):
    calls = []

    def fake_measure(layers):
        calls.append(layers)
        return NATIVE_BF16

    assert cached_timings(tmp_path, 8, fake_measure) == NATIVE_BF16
    assert cached_timings(tmp_path, 8, fake_measure) == NATIVE_BF16
    assert cached_timings(tmp_path, 2, fake_measure) == NATIVE_BF16
    assert calls == [8, 2] and len(list(tmp_path.glob("cpu-*.json"))) == 2


def test_probe_size_follows_the_model():
    assert probe_layers(106_000_000) == 8 and probe_layers(10_000) == 1 and probe_layers(7_000_000_000) == 8


def test_packed_prompt_matmul_in_bf16_is_close_to_fp32():
    torch.manual_seed(0)
    weight = torch.randn(64, 4 * GROUP)
    layer = Int4Linear(fit_grid(weight, search=False), torch.randn(64))
    rows = torch.randn(16, 4 * GROUP)  # a prompt: more rows than the int4 kernel takes
    exact = layer(rows)
    layer.prompt_dtype = torch.bfloat16
    fast = layer(rows)
    assert fast.dtype == torch.float32 and not torch.equal(fast, exact)
    assert torch.allclose(fast, exact, rtol=0.05, atol=0.1)
    assert torch.allclose(exact, F.linear(rows, layer.dequantized(), layer.bias), atol=1e-4)
