"""Smaller CPU weights for faster decoding: linear layers as 4-bit groups, the LM head as 8-bit rows.

Decoding a token reads every weight once, so on a CPU the decode rate is set by the bytes the
weights take (docs/BENCHMARKS.md). torch ships CPU kernels for weight-only int4 (groups of 32 with a
scale and an offset each) and for int8 (a scale per row), both with bf16 activations; the residual stream, the
norms, attention and the KV cache stay in the model's dtype.

- ``auto``: a GGUF model (the bundled SmolLM2) is dequantized on load, but its Q4_0/Q4_1/Q4_K
  linear weights still lie on a 4-bit grid per group of 32, and its Q8_0 LM head on an 8-bit one, so
  re-packing them loses nothing. ``auto`` re-packs exactly the layers where that holds.
- ``int4``: every linear layer is rounded to the nearest of 16 levels per group, and the head to
  the nearest of 255 (lossy): for models that decode too slowly in fp32.
- ``off``: weights as loaded.

Prompts (many rows at once) run through the layer's dequantized weights, which is faster there than
the int4 kernel, in fp32 or, where this CPU is fast at it (AMX, AVX512-BF16: ``cpu_probe.py``), bf16;
single tokens run through the kernel. The weights are unpacked for each prompt into buffers the
thread reuses (``dequantized_t``), or kept unpacked (``keep_prompt_weights``) where memory allows.

Example::

    report = pack_for_cpu(model, "auto")
    log.info("weights: %s", report.describe())
"""

from __future__ import annotations

import functools
import logging
import math
import threading
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

log = logging.getLogger("foldrag.generation")

GROUP = 32
KERNEL_MAX_ROWS = 4  # up to this many rows the int4 kernel wins; more rows use dequantized weights
_LOW_NIBBLES = 0x0F0F0F0F0F0F0F0F
TILE = 1 << 18  # weights unpacked per step for a prompt: 1 MB of fp32, inside a core's L2 (measured best of 64k-512k)
_ON_GRID = 1e-3  # a weight within this fraction of a grid step of a level counts as on the grid


def kernels_available() -> bool:
    ops = torch.ops.aten
    return all(hasattr(ops, name) for name in
               ("_convert_weight_to_int4pack_for_cpu", "_weight_int4pack_mm_for_cpu", "_weight_int8pack_mm"))


def int4_fits(weight: torch.Tensor) -> bool:
    """The kernel's shape rules: output features a multiple of 16, input features of the group size."""
    out_features, in_features = weight.shape
    return out_features % 16 == 0 and in_features % GROUP == 0


@dataclass(frozen=True)
class Grid:
    """A weight matrix as 4-bit codes per group of ``GROUP`` inputs: w = code * scale + offset."""

    codes: torch.Tensor  # (out, in // GROUP, GROUP) uint8, 0..15
    scale: torch.Tensor  # (out, in // GROUP, 1) float32
    offset: torch.Tensor  # (out, in // GROUP, 1) float32
    exact: bool  # every weight was already on its group's grid


def fit_grid(weight: torch.Tensor, search: bool = True) -> Grid:
    """Find each group's 4-bit grid: evenly spaced levels up from the group's smallest weight.

    Q4_1 uses all 16 levels (the smallest weight is level 0, the largest level 15). Q4_0 and Q4_K
    groups may leave top levels unused, so with ``search`` the groups the 16-level fit misses are
    tried with their range split into 14, 13, ... 8 steps. A group on no grid is rounded to the
    16-level one, and the grid is not exact.
    """
    out_features, in_features = weight.shape
    groups = weight.detach().float().reshape(-1, GROUP)
    low = groups.amin(-1, keepdim=True)
    span = groups.amax(-1, keepdim=True) - low
    scale = span / 15
    codes, on_grid = _round(groups, scale, low)
    todo = (~on_grid[:, 0]).nonzero()[:, 0]
    for steps in range(14, 7, -1) if search else ():
        if len(todo) == 0:
            break
        step = span[todo] / steps
        codes_k, fits = _round(groups[todo], step, low[todo])
        done, fits = todo[fits[:, 0]], fits[:, 0]
        codes[done], scale[done], on_grid[done] = codes_k[fits], step[fits], True
        todo = todo[~fits]
    shape = (out_features, in_features // GROUP)
    return Grid(codes=codes.reshape(*shape, GROUP), scale=scale.reshape(*shape, 1), offset=low.reshape(*shape, 1),
                exact=bool(on_grid.all()))


def on_4bit_grid(weight: torch.Tensor, rows: int = 8) -> bool:
    """A cheap look at a few rows: does this layer come from a 4-bit file?"""
    return fit_grid(weight[:rows]).exact


def _round(groups, scale, offset):
    safe = torch.where(scale == 0, torch.ones_like(scale), scale)
    levels = torch.round((groups - offset) / safe)
    codes = levels.clamp(0, 15)
    miss = (codes * scale + offset - groups).abs().amax(-1, keepdim=True)
    on_grid = (levels == codes).all(-1, keepdim=True) & (miss <= _ON_GRID * safe)
    return codes.to(torch.uint8), on_grid


class Int4Linear(nn.Module):
    """A linear layer with int4 weights in groups of 32; activations are bf16 inside the kernel.

    The weights are held once, in the kernel's packing; the prompt path reads its codes back out
    of it (``kernel_layout``). Where that packing is not one this code knows, the codes are kept
    a second time, as plain nibbles, so the layer still works at twice the memory.
    """

    def __init__(self, grid: Grid, bias: torch.Tensor | None) -> None:
        super().__init__()
        out_features, groups, _ = grid.codes.shape
        self.in_features, self.out_features = groups * GROUP, out_features
        flat = grid.codes.reshape(out_features, self.in_features)
        # The kernel's packing; its zero point is level 8: w = (code - 8) * scale + zero.
        self.register_buffer("packed", torch._convert_weight_to_int4pack_for_cpu(flat.to(torch.int32), 1))
        zero = grid.offset + 8 * grid.scale
        self.register_buffer("scale_zero", torch.stack(
            [grid.scale.reshape(out_features, groups).t(), zero.reshape(out_features, groups).t()], -1
        ).contiguous().to(torch.bfloat16))
        # The exact grid for the prompt path: fp16 where that loses nothing (Q4_0, Q4_1), else fp32.
        scale, offset = grid.scale.half(), grid.offset.half()
        moved = (scale.float() - grid.scale).abs() * 15 + (offset.float() - grid.offset).abs()
        if not bool((moved <= _ON_GRID * grid.scale.abs()).all()) or not bool(scale.isfinite().all()):
            scale, offset = grid.scale.float(), grid.offset.float()
        # (groups, 1, out): the layout the prompt path reads a few input rows at a time
        self.register_buffer("scale", scale.reshape(out_features, groups).t().unsqueeze(1).contiguous())
        self.register_buffer("offset", offset.reshape(out_features, groups).t().unsqueeze(1).contiguous())
        self.layout = kernel_layout()
        self.register_buffer("nibbles", to_nibbles(grid.codes) if self.layout is None else None)
        self.bias = None if bias is None else nn.Parameter(bias.detach().clone(), requires_grad=False)
        self.prompt_dtype = torch.float32  # dtype of many-row (prompt) matmuls; bf16 where the CPU is fast at it
        self.prompt_weight: torch.Tensor | None = None  # the dequantized weights (in, out), when kept (keep_prompt_weights)

    def codes(self) -> torch.Tensor:
        """The 4-bit codes, (out, in) uint8."""
        if self.nibbles is not None:
            return from_nibbles(self.nibbles).reshape(self.out_features, self.in_features)
        return unpack_kernel_codes(self.packed, self.out_features, self.in_features, self.layout)

    def dequantized(self) -> torch.Tensor:
        """The weights, (out, in) fp32."""
        return self.dequantized_t(torch.float32, _Scratch()).t()

    def dequantized_t(self, dtype: torch.dtype, scratch: "_Scratch") -> torch.Tensor:
        """The weights transposed, (in, out) in ``dtype``, written into ``scratch``'s buffer (valid
        until its next use). Each weight is ``code * scale + offset`` in fp32, rounded once to ``dtype``.

        Transposed because torch's packing holds each block of output rows input-major, so the
        codes come out that way in contiguous runs, and a prompt's ``rows @ w_t`` runs faster here
        than ``F.linear`` on (out, in). A few input rows at a time (``TILE`` weights), so that the
        codes and their fp32 values stay in the core's cache between the passes, and into a buffer
        that is reused, since the page faults of a fresh 50 MB tensor per layer cost more than the
        arithmetic (docs/BENCHMARKS.md, "Unpacking a prompt's weights")."""
        with torch.inference_mode():  # the buffers are inference tensors: written in that mode only
            return self._dequantize_into(dtype, scratch)

    def _dequantize_into(self, dtype: torch.dtype, scratch: "_Scratch") -> torch.Tensor:
        out_features, in_features = self.out_features, self.in_features
        weights = scratch.take("weights" if dtype != torch.float32 else "fp32", dtype, (in_features, out_features))
        step = min(in_features, max(GROUP, TILE // out_features // GROUP * GROUP))
        codes = scratch.take("codes", torch.uint8, (step, out_features))
        values = weights if dtype == torch.float32 else scratch.take("fp32", torch.float32, (step, out_features))
        for first in range(0, in_features, step):
            last = min(in_features, first + step)
            tile = codes[:last - first]
            self._codes_t(first, last, tile)
            part = values[first:last] if dtype == torch.float32 else values[:last - first]
            part.copy_(tile)
            by_group = part.view(-1, GROUP, out_features)
            groups = slice(first // GROUP, last // GROUP)
            torch.addcmul(self.offset[groups].float(), by_group, self.scale[groups].float(), out=by_group)
            if dtype != torch.float32:
                weights[first:last].copy_(part)
        return weights

    def _codes_t(self, first: int, last: int, out: torch.Tensor) -> None:
        """Write the 4-bit codes of input features ``first .. last``, transposed, into ``out``
        (last - first, out_features) uint8."""
        layout, in_features = self.layout, self.in_features
        if layout is None:
            out.copy_(self.codes()[:, first:last].t())
            return
        flat, block, rows = self.packed.reshape(-1), layout.block, last - first
        full = self.out_features // block
        at = full * in_features * block // 2
        if full and layout.halves:  # eight bytes at a time: low nibbles are rows r, high nibbles rows r + block / 2
            words = block // 16  # int64 words per input feature of a block
            packed = flat[:at].view(torch.int64).view(full, in_features, words)[:, first:last]
            halves = out[:, :full * block].view(torch.int64).view(rows, full, 2, words).permute(1, 0, 2, 3)
            torch.bitwise_and(packed, _LOW_NIBBLES, out=halves[:, :, 0])
            torch.bitwise_and(packed >> 4, _LOW_NIBBLES, out=halves[:, :, 1])
        elif full:
            bytes_ = flat[:at].view(full, in_features, block // 2)[:, first:last]
            out[:, :full * block].view(rows, full, block).permute(1, 0, 2).copy_(
                _pairs(bytes_).reshape(full, rows, block))
        short = self.out_features - full * block
        if short:  # a last short block is always in pairs
            bytes_ = flat[at:].view(in_features, short // 2)[first:last]
            out[:, full * block:] = _pairs(bytes_).reshape(rows, short)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features)
        if rows.shape[0] <= KERNEL_MAX_ROWS:
            out = torch._weight_int4pack_mm_for_cpu(rows.to(torch.bfloat16), self.packed, GROUP, self.scale_zero)
            out = out.to(x.dtype)
            if self.bias is not None:
                out = out + self.bias
        else:
            dtype = self.prompt_dtype
            weight_t = self.prompt_weight
            if weight_t is None:
                weight_t = self.dequantized_t(dtype, _scratch())
            out = rows.to(dtype) @ weight_t
            if self.bias is not None:
                out += self.bias.to(dtype)
            out = out.to(x.dtype)
        return out.reshape(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, group={GROUP}"


class _Scratch:
    """Buffers reused from one layer's prompt to the next: flat tensors per name, grown as needed."""

    def __init__(self) -> None:
        self._flat: dict[str, torch.Tensor] = {}

    def take(self, name: str, dtype: torch.dtype, shape: tuple[int, ...]) -> torch.Tensor:
        size = math.prod(shape)
        flat = self._flat.get(name)
        if flat is None or flat.numel() < size or flat.dtype != dtype:
            flat = self._flat[name] = torch.empty(size, dtype=dtype)
        return flat[:size].view(shape)


_SCRATCH = threading.local()


def _scratch() -> _Scratch:
    """This thread's prompt buffers (a thread runs one layer at a time)."""
    scratch = getattr(_SCRATCH, "buffers", None)
    if scratch is None:
        scratch = _SCRATCH.buffers = _Scratch()
    return scratch


def to_nibbles(codes: torch.Tensor) -> torch.Tensor:
    """(..., GROUP) 4-bit codes as (..., GROUP / 2) bytes: code j in the low nibble, code j + 16 high."""
    half = GROUP // 2
    return codes[..., :half] | (codes[..., half:] << 4)


def from_nibbles(nibbles: torch.Tensor) -> torch.Tensor:
    """The inverse of ``to_nibbles``."""
    return torch.cat([nibbles & 15, nibbles >> 4], -1)


@dataclass(frozen=True)
class KernelLayout:
    """How torch's CPU int4 packing lays out a weight's codes: blocks of ``block`` output rows, each
    stored as (in_features, block / 2) bytes. In a full block with ``halves`` a byte holds row r
    (low nibble) and row r + block / 2 (high); otherwise, and in a last short block, rows 2r and 2r + 1."""

    block: int
    halves: bool


LAYOUTS = (KernelLayout(64, True), KernelLayout(32, True), KernelLayout(32, False))  # AVX512, AVX2, plain C++


def _pairs(bytes_: torch.Tensor) -> torch.Tensor:
    """Bytes holding two neighbouring codes each (low nibble first), as (..., bytes, 2) codes."""
    return torch.stack([bytes_ & 15, bytes_ >> 4], -1)


@functools.cache
def kernel_layout() -> KernelLayout | None:
    """The packing this torch uses on this CPU (it follows the CPU's vector width), found by packing
    a probe with full and short blocks and reading it back; None when no known layout matches."""
    probe = torch.randint(0, 16, (64 * 3 + 16, 64), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    packed = torch._convert_weight_to_int4pack_for_cpu(probe.to(torch.int32), 1)
    for layout in LAYOUTS:
        if torch.equal(unpack_kernel_codes(packed, *probe.shape, layout), probe):
            return layout
    log.warning("unknown int4 packing in this torch: packed layers keep a second copy of their codes")
    return None


def unpack_kernel_codes(packed: torch.Tensor, out_features: int, in_features: int,
                        layout: KernelLayout) -> torch.Tensor:
    """The (out, in) uint8 codes held in torch's CPU int4 ``packed`` weight (see ``KernelLayout``)."""
    flat, block, parts = packed.reshape(-1), layout.block, []
    full, at = out_features // block, out_features // block * in_features * block // 2
    if full:
        bytes_ = flat[:at].view(full, in_features, block // 2)
        codes = from_nibbles(bytes_) if layout.halves else _pairs(bytes_).reshape(full, in_features, block)
        parts.append(codes.transpose(1, 2).reshape(full * block, in_features))  # (blocks, in, block) -> rows
    rows = out_features - full * block
    if rows:  # a last short block is always in pairs
        bytes_ = flat[at:].view(in_features, rows // 2)
        parts.append(_pairs(bytes_).reshape(in_features, rows).t())
    return parts[0].contiguous() if len(parts) == 1 else torch.cat(parts)


@dataclass(frozen=True)
class Int8Grid:
    """A weight matrix as int8 codes per group of ``GROUP`` inputs: w = code * scale (GGUF Q8_0)."""

    codes: torch.Tensor  # (out, in // GROUP, GROUP) int8, -127..127
    scale: torch.Tensor  # (out, in // GROUP, 1) float32
    exact: bool


def on_int8_grid(weight: torch.Tensor, rows: int = 8) -> bool:
    return fit_int8(weight[:rows]).exact


def fit_int8(weight: torch.Tensor, rows_per_step: int = 4096) -> Int8Grid:
    """Each group's largest magnitude is level ±127; exact when the weights were Q8_0 already.
    Works ``rows_per_step`` rows at a time, so a big embedding table needs little extra memory."""
    out_features, in_features = weight.shape
    codes = torch.empty(out_features, in_features // GROUP, GROUP, dtype=torch.int8)
    scale = torch.empty(out_features, in_features // GROUP, 1)
    exact = True
    for start in range(0, out_features, rows_per_step):
        groups = weight[start:start + rows_per_step].detach().float().reshape(-1, in_features // GROUP, GROUP)
        part = groups.abs().amax(-1, keepdim=True) / 127
        safe = torch.where(part == 0, torch.ones_like(part), part)
        levels = torch.round(groups / safe).clamp(-127, 127)
        miss = (levels * part - groups).abs().amax(-1, keepdim=True)
        exact = exact and bool((miss <= _ON_GRID * safe).all())
        codes[start:start + rows_per_step], scale[start:start + rows_per_step] = levels.to(torch.int8), part
    return Int8Grid(codes=codes, scale=scale, exact=exact)


class Int8Groups(nn.Module):
    """A bias-free linear layer (an LM head) with int8 weights in groups (32 for Q8_0, 16 for Q6_K),
    one scale each.

    torch's int8 kernel takes one scale per output row, so it runs once per group of inputs and the
    partial results are summed: the same bytes read as one call, and the file's codes stay exact.
    """

    def __init__(self, grid: Int8Grid) -> None:
        super().__init__()
        out_features, groups, self.group = grid.codes.shape
        self.out_features, self.in_features = out_features, groups * self.group
        self.register_buffer("codes", grid.codes.permute(1, 0, 2).contiguous())  # (groups, out, group)
        self.register_buffer("group_scale", grid.scale.reshape(out_features, groups).t().contiguous().to(torch.bfloat16))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features).to(torch.bfloat16)
        out = torch.zeros(rows.shape[0], self.out_features, dtype=torch.float32, device=x.device)
        size = self.group
        for g in range(self.codes.shape[0]):
            out += torch._weight_int8pack_mm(rows[:, g * size:(g + 1) * size].contiguous(), self.codes[g],
                                             self.group_scale[g])
        return out.to(x.dtype).reshape(*x.shape[:-1], self.out_features)


class CastLinear(nn.Module):
    """A linear layer whose weights are held in ``dtype`` (bf16 where this CPU's probe found bf16
    fast) while the model runs in another: for the weights of a GGUF that fit no int4/int8 grid
    (Q6_K), at half the memory and bytes per token of fp32; bf16 rounds them by at most 2^-9,
    well inside the file's own 6-bit steps."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, dtype: torch.dtype) -> None:
        super().__init__()
        self.out_features, self.in_features = weight.shape
        self.weight = nn.Parameter(weight.to(dtype), requires_grad=False)
        self.bias = None if bias is None else nn.Parameter(bias.to(dtype), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x.to(self.weight.dtype), self.weight, self.bias).to(x.dtype)


class Int4Embedding(nn.Module):
    """A token embedding table kept as 4-bit codes per group of 32 (a Q4 file's ``token_embd``):
    a lookup dequantizes only the rows it returns, so a 150k-token vocabulary costs a sixth of its
    fp32 size. Exact: the rows are the file's own values."""

    def __init__(self, grid: Grid, dtype: torch.dtype) -> None:
        super().__init__()
        self.num_embeddings, groups, _ = grid.codes.shape
        self.embedding_dim = groups * GROUP
        self.register_buffer("nibbles", to_nibbles(grid.codes))
        self.register_buffer("scale", grid.scale.clone())
        self.register_buffer("offset", grid.offset.clone())
        self.dtype = dtype

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        flat = ids.reshape(-1)
        nibbles = self.nibbles[flat]
        codes = from_nibbles(nibbles).float()
        rows = codes.mul_(self.scale[flat]).add_(self.offset[flat])
        return rows.reshape(*ids.shape, self.embedding_dim).to(self.dtype)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}, int4 rows"


@dataclass(frozen=True)
class PackReport:
    mode: str
    int4_layers: int  # linear layers now int4
    kept_layers: int  # linear layers left as loaded (off the grid in 'auto', or a shape the kernel refuses)
    head: str  # 'int8' or 'as loaded'
    bytes_before: int  # bytes the packed layers hold, before and after
    bytes_after: int
    embedding: str = "as loaded"  # 'int4' when the token table is kept as 4-bit rows

    @property
    def packed(self) -> bool:
        return self.int4_layers > 0 or self.head == "int8" or self.embedding == "int4"

    def describe(self) -> str:
        if not self.packed:
            return f"weights as loaded (cpu_quantize={self.mode}, {self.kept_layers} linear layers kept)"
        return (f"{self.int4_layers} linear layers int4, {self.kept_layers} as loaded, LM head {self.head}, "
                f"embeddings {self.embedding}: "
                f"{self.bytes_before / 2**20:.0f} MiB -> {self.bytes_after / 2**20:.0f} MiB")


def pack_for_cpu(model: nn.Module, mode: str, prompt_dtype: torch.dtype = torch.float32) -> PackReport:
    """Replace ``model``'s linear layers (and LM head) in place per ``mode``; see the module doc.
    ``prompt_dtype``: the dtype packed layers multiply prompts (many rows) in."""
    if mode == "off":
        return PackReport(mode, 0, 0, "as loaded", 0, 0)
    if not kernels_available():
        log.warning("this torch has no int4/int8 CPU kernels: weights stay as loaded")
        return PackReport(mode, 0, 0, "as loaded", 0, 0)
    if mode == "int4":
        log.warning("rounding the model's linear layers to 4 bits (lossy; about 30 s per billion weights here)")
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    with torch.no_grad():
        packed, kept, before, after = _pack_linears(model, head, mode, prompt_dtype)
        head_sizes = _pack_head(model, head, mode)
        if head_sizes:
            before, after = before + head_sizes[0], after + head_sizes[1]
        if packed or head_sizes:
            # The weights left (embeddings, norms) may still be views of the loaded file's memory map,
            # which keeps every page of the file that packing read resident: copy them out.
            for param in model.parameters():
                param.data = param.data.clone()
    return PackReport(mode, packed, kept, "int8" if head_sizes else "as loaded", before, after)


KEEP_RESERVE = 4 << 30  # 'auto' keeps prompt weights only where this much memory stays available after them


def prompt_weights_bytes(model: nn.Module) -> int:
    """The memory ``keep_prompt_weights`` would add to ``model``."""
    return sum(layer.in_features * layer.out_features * layer.prompt_dtype.itemsize
               for layer in model.modules() if isinstance(layer, Int4Linear) and layer.prompt_weight is None)


def should_keep_prompt_weights(setting: str, needed: int, available: int | None) -> bool:
    """'keep' always, 'dequantize' never; 'auto' where ``available`` memory holds ``needed`` bytes and
    ``KEEP_RESERVE`` beside them (unknown memory: not kept)."""
    if setting == "auto":
        return needed > 0 and available is not None and available >= needed + KEEP_RESERVE
    return setting == "keep"


def keep_prompt_weights(model: nn.Module) -> int:
    """Keep each int4 layer's dequantized weights (in its prompt dtype) beside its codes, so that a
    prompt no longer dequantizes every weight of the model; returns the bytes this adds. Measured on
    the bundled 1.5B (docs/BENCHMARKS.md, "Unpacking a prompt's weights"): an 830-token prompt
    6.3 s → 4.1 s, for 2.1 GB more memory in bf16 (twice that where prompts run in fp32)."""
    added = 0
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, Int4Linear) and layer.prompt_weight is None:
                layer.prompt_weight = layer.dequantized_t(layer.prompt_dtype, _Scratch())
                added += layer.prompt_weight.numel() * layer.prompt_weight.element_size()
    return added


def _pack_linears(model: nn.Module, head, mode: str, prompt_dtype: torch.dtype) -> tuple[int, int, int, int]:
    """Swap linear layers for Int4Linear; returns (packed, kept, bytes before, bytes after)."""
    packed = kept = before = after = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if not isinstance(child, nn.Linear) or child is head:
                continue
            replacement = packed_linear(child.weight, child.bias, mode, prompt_dtype)
            if replacement is None:
                kept += 1
                continue
            before, after = before + _nbytes(child), after + _nbytes(replacement)
            setattr(parent, name, replacement)
            packed += 1
    return packed, kept, before, after


def _pack_head(model: nn.Module, head, mode: str) -> tuple[int, int] | None:
    """Swap the LM head for Int8Groups; returns (bytes before, bytes after), or None if kept."""
    replacement = packed_head(head.weight, mode) if isinstance(head, nn.Linear) and head.bias is None else None
    if replacement is None:
        return None
    model.set_output_embeddings(replacement)
    return _nbytes(head), _nbytes(replacement)


def packed_linear(weight: torch.Tensor, bias: torch.Tensor | None, mode: str,
                  prompt_dtype: torch.dtype = torch.float32) -> Int4Linear | None:
    """A linear layer's ``weight`` (and ``bias``) as an Int4Linear when ``mode`` packs it (see
    ``pack_for_cpu``), else None."""
    grid = _int4_grid(weight, mode)
    if grid is None:
        return None
    layer = Int4Linear(grid, bias)
    layer.prompt_dtype = prompt_dtype
    return layer


def packed_head(weight: torch.Tensor, mode: str) -> Int8Groups | None:
    """A bias-free LM head's ``weight`` as Int8Groups when ``mode`` packs it, else None."""
    if weight.shape[1] % GROUP:
        return None
    if mode == "auto" and not on_int8_grid(weight):
        return None
    grid = fit_int8(weight)
    return None if mode == "auto" and not grid.exact else Int8Groups(grid)


def _int4_grid(weight: torch.Tensor, mode: str) -> Grid | None:
    """The weight's grid when ``mode`` packs it, else None."""
    if not int4_fits(weight):
        return None
    four_bit = on_4bit_grid(weight)
    if mode == "auto" and not four_bit:
        return None
    grid = fit_grid(weight, search=four_bit)
    return grid if grid.exact or mode == "int4" else None


def _nbytes(module: nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in list(module.parameters()) + list(module.buffers()))
