"""What the machine can do: CUDA, whether this CPU computes bf16 natively; the key and folder of the
measured probes cached per machine (rag/generation/cpu_probe.py, rag/embedding/runtime_choice.py)."""

from __future__ import annotations

import functools
import hashlib
import os
import platform
from pathlib import Path


@functools.cache
def cpu_flags() -> frozenset[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_has_fast_bf16() -> bool:
    """True on CPUs with AMX-BF16 or AVX512-BF16; elsewhere bf16 is emulated and slower than fp32."""
    return bool({"amx_bf16", "avx512_bf16"} & cpu_flags())


def available_memory() -> int | None:
    """Bytes this process could still take without swapping: the kernel's MemAvailable, lowered to
    what a cgroup limit (a container) leaves; None where neither can be read."""
    available = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
                break
    except (OSError, ValueError, IndexError):
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            used = int(Path("/sys/fs/cgroup/memory.current").read_text())
            left = max(0, int(limit) - used)
            available = left if available is None else min(available, left)
    except (OSError, ValueError):
        pass
    return available


def cuda_available() -> bool:
    # A CPU build of torch ("2.13.0+cpu") has no CUDA: said without importing torch (~2.5 s), so a
    # process that needs no torch model (a search on the ONNX runtime) never imports it.
    if _torch_version().endswith("+cpu"):
        return False
    import torch

    return torch.cuda.is_available()


@functools.cache
def _torch_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("torch")
    except PackageNotFoundError:
        return ""


def cpu_threads() -> int:
    """Threads for one operator on the CPU (the ONNX runtimes): OMP_NUM_THREADS when set, as torch
    reads it, else the CPUs this process may run on."""
    try:
        return max(1, int(os.environ.get("OMP_NUM_THREADS", "")))
    except ValueError:
        pass
    if hasattr(os, "sched_getaffinity"):  # Linux: the CPUs this process may use
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def preferred_dtype(setting: str, on_cuda: bool) -> str:
    """The torch dtype name for a dtype setting: 'auto' is bf16 on CUDA (fp16 where the GPU lacks
    bf16) and on CPUs with native bf16; fp32 elsewhere, where bf16 is emulated and slower."""
    if setting != "auto":
        return setting
    if on_cuda:
        import torch

        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    return "bfloat16" if cpu_has_fast_bf16() else "float32"


def machine_key(threads: int) -> str:
    """What the timings depend on: the CPU model and flags, the thread count the probe runs with,
    torch's version (read without importing torch)."""
    model = ""
    try:
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "")
    except OSError:
        pass
    text = "|".join([platform.machine(), model, " ".join(sorted(cpu_flags())),
                     str(threads), _torch_version()])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def default_probe_dir() -> Path:
    """Where measured probes are cached: ~/.cache/foldrag/probes (or under $XDG_CACHE_HOME)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "foldrag" / "probes"
