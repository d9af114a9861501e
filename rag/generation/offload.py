"""GPU offload planning: which decoder layers go on the GPU, which stay on the CPU or go to disk.

``plan_offload`` is a pure function of sizes, so its device maps are tested for given memory
sizes without a GPU; ``measure_model`` and ``free_cuda_memory`` read the real numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

GiB = 1024**3


def parse_bytes(text: str | None) -> int | None:
    """'6GiB', '512MB', '2000000' → bytes."""
    if text is None:
        return None
    units = {"kib": 1024, "mib": 1024**2, "gib": 1024**3, "kb": 10**3, "mb": 10**6, "gb": 10**9, "b": 1}
    lowered = text.strip().lower()
    for unit, factor in units.items():
        if lowered.endswith(unit):
            return int(float(lowered[: -len(unit)]) * factor)
    return int(float(lowered))


@dataclass(frozen=True)
class ModelSizes:
    num_layers: int
    layer_bytes: int  # one decoder layer's weights
    embed_bytes: int  # input embeddings
    head_bytes: int  # final norm + lm_head (0 when tied to the embeddings)


@dataclass(frozen=True)
class OffloadPlan:
    device_map: dict[str, str | int]
    gpu_layers: int
    cpu_layers: int
    disk_layers: int
    notes: tuple[str, ...]

    def describe(self) -> str:
        return f"{self.gpu_layers} layers on GPU, {self.cpu_layers} on CPU, {self.disk_layers} on disk"


def plan_offload(
    sizes: ModelSizes,
    *,
    cuda: bool,
    free_vram: int | None = None,
    gpu_layers: int | None = None,
    max_gpu_memory: int | None = None,
    cpu_memory: int | None = None,
    offload_folder: str | None = None,
    headroom: float = 0.15,
) -> OffloadPlan:
    """Build an accelerate device map for a Llama/Qwen-style model (``model.layers.N``).

    - ``gpu_layers`` fixes the count on the GPU; otherwise as many as fit in ``free_vram`` (or
      ``max_gpu_memory``, whichever is smaller) less ``headroom`` for activations and the KV cache.
    - Layers that do not fit in ``cpu_memory`` (when given) go to disk if ``offload_folder`` is set.
    - Without CUDA everything is on the CPU, with a note saying so.
    """
    notes: list[str] = []
    n = sizes.num_layers
    if not cuda:
        if gpu_layers:
            notes.append(f"CUDA is not available: gpu_layers={gpu_layers} ignored, running on the CPU")
        on_gpu = 0
        budget = 0
    else:
        limits = [x for x in (free_vram, max_gpu_memory) if x is not None]
        budget = int(min(limits) * (1 - headroom)) if limits else 0
        if gpu_layers is not None:
            on_gpu = max(0, min(gpu_layers, n))
        else:
            fixed = sizes.embed_bytes + sizes.head_bytes
            on_gpu = max(0, min(n, (budget - fixed) // max(sizes.layer_bytes, 1))) if budget > fixed else 0
        if on_gpu == 0:
            notes.append("no decoder layer fits on the GPU: running on the CPU")
    rest = n - on_gpu
    on_disk = 0
    if cpu_memory is not None and rest:
        fit_cpu = max(0, (cpu_memory - (0 if on_gpu else sizes.embed_bytes + sizes.head_bytes)) // max(sizes.layer_bytes, 1))
        if fit_cpu < rest:
            if offload_folder:
                on_disk = rest - fit_cpu
                notes.append(f"{on_disk} layers do not fit in CPU memory: offloaded to {offload_folder}")
            else:
                notes.append("the model may not fit in CPU memory; set offload_folder to spill layers to disk")
    on_cpu = rest - on_disk

    def where(i: int) -> str | int:
        if i < on_gpu:
            return 0
        return "cpu" if i < on_gpu + on_cpu else "disk"

    device_map: dict[str, str | int] = {"model.embed_tokens": 0 if on_gpu else "cpu"}
    for i in range(n):
        device_map[f"model.layers.{i}"] = where(i)
    last = where(n - 1) if n else "cpu"
    tail = 0 if on_gpu == n and on_gpu else ("cpu" if last == "disk" else last)
    device_map["model.norm"] = tail
    device_map["model.rotary_emb"] = tail
    device_map["lm_head"] = tail
    return OffloadPlan(device_map=device_map, gpu_layers=on_gpu, cpu_layers=on_cpu, disk_layers=on_disk,
                       notes=tuple(notes))


def measure_model(model) -> ModelSizes:
    """Byte sizes of a loaded (or meta-device) Llama/Qwen-style causal LM."""
    def nbytes(module) -> int:
        return sum(p.numel() * p.element_size() for p in module.parameters())

    layers = model.model.layers
    head = nbytes(model.model.norm)
    if model.lm_head.weight.data_ptr() != model.model.embed_tokens.weight.data_ptr():
        head += nbytes(model.lm_head)
    return ModelSizes(num_layers=len(layers), layer_bytes=nbytes(layers[0]) if len(layers) else 0,
                      embed_bytes=nbytes(model.model.embed_tokens), head_bytes=head)


def measure_gguf(path) -> ModelSizes:
    """Byte sizes of a GGUF model as stored (quantized), read from its tensor table (no weights read).
    A layer is its largest ``blk.N.*`` group; embeddings are ``token_embd``; the head is ``output*``."""
    import re

    from gguf import GGUFReader

    blocks: dict[int, int] = {}
    embed = head = 0
    for tensor in GGUFReader(str(path)).tensors:
        match = re.match(r"blk\.(\d+)\.", tensor.name)
        if match:
            blocks[int(match.group(1))] = blocks.get(int(match.group(1)), 0) + int(tensor.n_bytes)
        elif tensor.name.startswith("token_embd"):
            embed += int(tensor.n_bytes)
        elif tensor.name.startswith("output"):
            head += int(tensor.n_bytes)
    return ModelSizes(num_layers=len(blocks), layer_bytes=max(blocks.values(), default=0), embed_bytes=embed,
                      head_bytes=head)


def free_cuda_memory() -> int | None:
    import torch

    if not torch.cuda.is_available():
        return None
    free, _total = torch.cuda.mem_get_info()
    return int(free)
