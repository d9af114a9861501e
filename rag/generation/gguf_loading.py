"""A GGUF model loaded tensor by tensor into its run form: no fp32 copy of the whole model, no
converted folder on disk.

Each tensor of the (memory-mapped) file is dequantized alone, given the layout transformers uses
(transformers' own name map and Q/K un-permutation), and put in place on a skeleton whose weights
were never allocated; on the CPU a linear layer on a 4-bit grid is packed to int4 at once and the
LM head to int8 groups, so peak memory is the run form plus one dequantized tensor. Only the
tokenizer, config and tensor table (a few MB) are cached, keyed by the file's content.

Example::

    model, tokenizer, report = load_gguf(path, dtype=torch.float32, pack="auto", cache_dir=cache)
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import mmap
from pathlib import Path

import torch
from torch import nn

from foldrag.core.errors import ModelUnavailable
from foldrag.generation.model_files import content_key, write_folder
from foldrag.generation.gguf_grids import grid_from_blocks, int8_grid_from_blocks
from foldrag.generation.gguf_table import open_tensors
from foldrag.generation.packed_weights import (CastLinear, Int4Embedding, Int4Linear, Int8Groups, PackReport, int4_fits,
                                          packed_head, packed_linear)

log = logging.getLogger("foldrag.generation")


def load_gguf(path: Path, *, dtype: torch.dtype, pack: str, cache_dir: Path,
              prompt_dtype: torch.dtype = torch.float32):
    """(model, tokenizer, PackReport) for the GGUF at ``path`` on the CPU.

    ``pack``: 'auto' packs the layers that lie on a 4/8-bit grid exactly, 'int4' rounds every
    linear layer, 'off' keeps ``dtype``. Raises ModelUnavailable when the file cannot be read.
    """
    import numpy as np
    from accelerate import init_empty_weights
    from gguf import dequantize
    from transformers import AutoModelForCausalLM
    from transformers.modeling_gguf_pytorch_utils import TENSOR_PROCESSORS, TensorProcessor

    folder = tokenizer_and_config(path, cache_dir)
    try:
        from transformers import AutoConfig, AutoTokenizer

        config = AutoConfig.from_pretrained(str(folder))
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
        tensors, mapped = open_tensors(path, folder)  # the tensor table; no metadata parsed twice
    except Exception as exc:
        raise ModelUnavailable(f"could not read GGUF {path}: {exc}") from exc
    with init_empty_weights():  # parameters on the meta device; buffers (rotary tables) real
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    # the GGUF's architecture name: a text-only config says "gemma3_text" for a "gemma3" file
    architecture = config.model_type.removesuffix("_text")
    # transformers' per-architecture fix-ups (Llama's Q/K rows come permuted in a GGUF)
    processor = TENSOR_PROCESSORS.get(architecture, TensorProcessor)(config={
        "num_attention_heads": config.num_attention_heads,
        "num_key_value_heads": getattr(config, "num_key_value_heads", None) or config.num_attention_heads})
    names = _gguf_to_hf_names(model, architecture)
    head = model.get_output_embeddings()
    head_name = next(n for n, m in model.named_modules() if m is head)
    tied = bool(getattr(config, "tie_word_embeddings", False))
    parts = _Assembly(model, head_name, pack)
    with torch.no_grad():
        for tensor in tensors:
            try:
                fast = _read_packed(tensor, processor, names, parts.modules, pack, prompt_dtype, dtype,
                                    head=head_name, tied=tied)
                if fast is not None:
                    parts.put(*fast, loaded_bytes=tensor.n_elements * 4)
                    continue
                result = processor.process(weights=dequantize(tensor.data, tensor.tensor_type), name=tensor.name,
                                           tensor_key_mapping=names, parsed_parameters={"config": processor.config})
                name = names.get(result.name)
                if name is not None:
                    weights = result.weights
                    if weights.dtype != np.float32 or not weights.flags.writeable or not weights.flags.c_contiguous:
                        weights = np.array(weights, dtype=np.float32)  # an owned copy only when it must be
                    del result
                    parts.place(name, torch.from_numpy(weights), dtype, prompt_dtype)
            finally:
                _drop_pages(mapped, tensor)
        if tied and parts.head == "as loaded" and head.weight.is_meta:
            model.tie_weights()  # no output tensor in the file: the head is the embedding table
            if pack != "off":
                replacement = packed_head(model.get_output_embeddings().weight, pack)
                if replacement is not None:
                    model.set_output_embeddings(replacement)
                    parts.head = "int8"
    missing = [n for n, p in model.named_parameters() if p.is_meta]
    if missing:
        raise ModelUnavailable(f"GGUF {path.name} has no tensor for {missing[:3]} (architecture {architecture})")
    model.eval()
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    report = PackReport(pack, parts.int4, parts.kept, parts.head, parts.before, parts.after, embedding=parts.embedding)
    return model, tokenizer, report


class _Assembly:
    """The model being filled in, tensor by tensor, and the tally of what was packed."""

    def __init__(self, model: nn.Module, head_name: str, pack: str) -> None:
        self.model, self.head_name, self.pack = model, head_name, pack
        self.modules = dict(model.named_modules())
        self.int4 = self.kept = self.before = self.after = 0
        self.head = self.embedding = "as loaded"

    def put(self, owner: str, replacement: nn.Module, *, loaded_bytes: int | None = None) -> None:
        """Swap module ``owner`` for ``replacement``; ``loaded_bytes`` (what the weight would take as
        loaded) when it is a packed form, counted in the report."""
        _replace(self.model, owner, replacement)
        self.modules[owner] = replacement
        if loaded_bytes is None:
            return
        self.before, self.after = self.before + loaded_bytes, self.after + _nbytes(replacement)
        if isinstance(replacement, Int4Embedding):
            self.embedding = "int4"
        elif owner == self.head_name:
            self.head = "int8"
        else:
            self.int4 += 1

    def place(self, name: str, value: torch.Tensor, dtype: torch.dtype, prompt_dtype: torch.dtype) -> None:
        """Put a dequantized tensor in place: packed where ``pack`` allows, else as a parameter."""
        owner, _, leaf = name.rpartition(".")
        module = self.modules[owner]
        if leaf == "bias" and isinstance(module, (Int4Linear, CastLinear)):  # its layer was read already
            module.bias = nn.Parameter(value.to(getattr(module, "weight", value).dtype), requires_grad=False)
            return
        if leaf == "weight" and isinstance(module, nn.Linear) and self.pack != "off":
            is_head = owner == self.head_name
            replacement = _packed(module, value, self.pack, prompt_dtype, is_head=is_head)
            if replacement is not None:
                self.put(owner, replacement, loaded_bytes=value.numel() * value.element_size())
                return
            self.kept += not is_head
            if prompt_dtype != dtype and value.dtype != prompt_dtype:  # a weight on no grid: the CPU's fast dtype
                self.put(owner, CastLinear(value, _loaded_bias(module), prompt_dtype))
                if is_head:
                    self.head = str(prompt_dtype).removeprefix("torch.")
                return
        module._parameters[leaf] = nn.Parameter(value.to(dtype), requires_grad=False)  # no further copy


def _loaded_bias(module: nn.Linear) -> torch.Tensor | None:
    """The layer's bias if its tensor was read already (else it is set when it comes)."""
    return module.bias if module.bias is not None and not module.bias.is_meta else None


def _drop_pages(mapped, tensor) -> None:
    """Let go of the file pages a tensor was read from. They are clean (read-only map) and nothing
    points into them any more, but while mapped they count as this process's memory: without this
    a 3.6 GB file adds 3.6 GB to the peak of a load that never needs more than one tensor of it."""
    pages = getattr(mapped, "_mmap", None)  # numpy.memmap's mmap object
    if pages is None or not hasattr(pages, "madvise"):
        return
    start = tensor.data_offset - tensor.data_offset % mmap.PAGESIZE
    pages.madvise(mmap.MADV_DONTNEED, start, tensor.data_offset + tensor.n_bytes - start)


def _gguf_to_hf_names(model: nn.Module, architecture: str) -> dict[str, str]:
    """GGUF tensor name → the model's parameter name, from gguf-py's table for the architecture."""
    from gguf import MODEL_ARCH_NAMES, get_tensor_name_map

    arch = next((key for key, value in MODEL_ARCH_NAMES.items() if value == architecture), None)
    if arch is None:
        raise ModelUnavailable(f"foldrag cannot read a GGUF of architecture {architecture!r} on the CPU path")
    table = get_tensor_name_map(arch, model.config.num_hidden_layers)
    names = {}
    for hf_name in model.state_dict():
        stem, _, suffix = hf_name.rpartition(".")
        gguf_name = table.get_name(stem)
        if gguf_name is not None:
            names[f"{gguf_name}.{suffix}"] = hf_name
    return names


def _read_packed(tensor, processor, names, modules, pack, prompt_dtype, dtype, *, head: str, tied: bool):
    """(module name, packed module) for a weight whose run form can be read straight from its
    blocks — a linear layer's 4-bit codes (Int4Linear), an LM head's int8 groups (Int8Groups), an
    untied embedding table's 4-bit rows (Int4Embedding) — or None: it takes the dequantize path."""
    owner, _, leaf = names.get(tensor.name, "").rpartition(".")
    module = modules.get(owner)
    if pack == "off" or leaf != "weight" or len(tensor.shape) != 2:
        return None
    cols, rows = (int(n) for n in tensor.shape)  # GGUF lists the fastest-moving dimension first
    if isinstance(module, nn.Embedding) and not tied:
        read, build = grid_from_blocks, functools.partial(Int4Embedding, dtype=dtype)
    elif isinstance(module, nn.Linear) and owner == head and module.bias is None:
        read, build = int8_grid_from_blocks, Int8Groups
    elif isinstance(module, nn.Linear) and owner != head and int4_fits(torch.empty(rows, cols, device="meta")):
        read, build = grid_from_blocks, functools.partial(_int4_layer, module=module, prompt_dtype=prompt_dtype)
    else:
        return None
    order = _row_order(processor, tensor.name, rows, names)
    grid = None if order is False else read(tensor.data, tensor.tensor_type, rows, cols)
    return None if grid is None else (owner, build(_in_order(grid, order)))


def _int4_layer(grid, *, module: nn.Linear, prompt_dtype) -> Int4Linear:
    layer = Int4Linear(grid, _loaded_bias(module))
    layer.prompt_dtype = prompt_dtype
    return layer


def _in_order(grid, order):
    """``grid`` with its rows in ``order`` (None: as they are)."""
    if grid is None or order is None:
        return grid
    return dataclasses.replace(grid, **{field.name: getattr(grid, field.name)[order]
                                        for field in dataclasses.fields(grid) if field.name != "exact"})


def _row_order(processor, gguf_name: str, rows: int, names: dict[str, str]):
    """How transformers' fix-up for this tensor reorders its rows (Llama's Q/K): None for no change,
    an index tensor for a reordering, False when it does more than reorder rows."""
    import numpy as np

    index = np.arange(rows, dtype=np.float32).reshape(rows, 1)
    result = processor.process(weights=index, name=gguf_name, tensor_key_mapping=names,
                               parsed_parameters={"config": processor.config})
    moved = np.asarray(result.weights).reshape(-1)
    if result.name != gguf_name or moved.shape != (rows,) or not np.array_equal(np.sort(moved), index[:, 0]):
        return False
    return None if np.array_equal(moved, index[:, 0]) else torch.from_numpy(moved.astype(np.int64))


def _packed(module: nn.Linear, weight: torch.Tensor, mode: str, prompt_dtype, *, is_head: bool):
    """The packed form of ``module`` with ``weight``, or None when it stays as loaded. A bias not
    read yet (meta) is set when its tensor comes."""
    if is_head:
        return packed_head(weight, mode) if module.bias is None else None
    return packed_linear(weight, _loaded_bias(module), mode, prompt_dtype)


def _replace(model: nn.Module, name: str, replacement: nn.Module) -> None:
    parent_name, _, leaf = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, leaf, replacement)


def _nbytes(module: nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in list(module.parameters()) + list(module.buffers()))


def tokenizer_and_config(path: Path, cache_dir: Path) -> Path:
    """The GGUF's tokenizer and config as files, made once (seconds, in a child process: see
    gguf_tokenizer.py) and kept by content key."""
    target = cache_dir / f"{path.stem}-{content_key(path)}-tokenizer"
    if (target / "config.json").exists():
        return target
    from foldrag.generation.gguf_tokenizer import write_in_child

    return write_folder(target, lambda tmp: write_in_child(path, tmp))
