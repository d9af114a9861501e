"""The dtype choice from CPU flags (the flags are faked, so both CPU kinds are tested on either)."""

from __future__ import annotations

import pytest

from foldrag.core import hardware


@pytest.mark.parametrize("flags, expected", [
    ({"avx2", "fma"}, "float32"),                     # bf16 emulated: slower than fp32
    ({"avx2", "avx512f", "avx512_bf16"}, "bfloat16"),  # AVX512-BF16 (e.g. AMD EPYC Zen 4, Intel Cooper Lake)
    ({"avx2", "amx_bf16", "amx_tile"}, "bfloat16"),    # AMX (Intel Sapphire Rapids)
])
def test_auto_dtype_on_the_cpu_follows_native_bf16(monkeypatch, flags, expected):
    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset(flags))
    assert hardware.preferred_dtype("auto", on_cuda=False) == expected


def test_an_explicit_dtype_is_kept(monkeypatch):
    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset({"avx512_bf16"}))
    assert hardware.preferred_dtype("float32", on_cuda=False) == "float32"
    assert hardware.preferred_dtype("float16", on_cuda=True) == "float16"
