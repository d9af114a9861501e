"""A GGUF tensor's 4-bit grid read straight from its quantized blocks: the codes, scale and offset
of every group of 32 weights, with no dequantizing and no fitting. Likewise the int8 groups of a
Q8_0 tensor (an LM head). (Q6_K's groups of 16 also fit torch's int8 kernel, but an LM head run
as 16-wide slices took 80 ms a token here against 22 ms in bf16: it takes the dequantize path.)

Q4_0 (w = d * (q - 8)), Q4_1 (w = d * q + m) and Q4_K (w = d * sc * q - dmin * m per 32 weights)
all store 4-bit codes per group of 32, which is the grid ``Int4Linear`` runs on. Reading them
from the bytes is exact by construction and several times faster than dequantizing the tensor and
searching each group's grid (``packed_weights.fit_grid``). Other types return None and take that
slower path.

Example::

    grid = grid_from_blocks(tensor.data, tensor.tensor_type, rows, cols)
"""

from __future__ import annotations

import numpy as np
import torch

from foldrag.generation.packed_weights import GROUP, Grid, Int8Grid


def grid_from_blocks(blocks: np.ndarray, kind, rows: int, cols: int) -> Grid | None:
    """The grid of a (rows, cols) weight stored as GGUF ``kind`` blocks (a uint8 array, one row of
    blocks per weight row), or None for a type without 4-bit groups of 32."""
    from gguf import GGMLQuantizationType as Q

    readers = {Q.Q4_0: _q4_0, Q.Q4_1: _q4_1, Q.Q4_K: _q4_k}
    if kind not in readers or cols % GROUP:
        return None
    codes, scale, offset = _by_rows(blocks, rows, cols, GROUP, readers[kind], _BLOCK_BYTES[kind.name],
                                    (np.uint8, np.float32, np.float32))
    return Grid(codes=torch.from_numpy(codes), scale=torch.from_numpy(scale), offset=torch.from_numpy(offset),
                exact=True)


def _by_rows(blocks: np.ndarray, rows: int, cols: int, group: int, read, block_bytes: int, dtypes):
    """Run ``read`` over a few thousand rows at a time into arrays made once — (rows, groups, group)
    codes, then (rows, groups, 1) per-group values — so a 150k-row table needs no full-size temporaries."""
    blocks = blocks.reshape(rows, -1)
    groups = cols // group
    out = [np.empty((rows, groups, group if i == 0 else 1), dtype=dtype) for i, dtype in enumerate(dtypes)]
    step = max(1, (1 << 22) // cols)
    for start in range(0, rows, step):
        parts = read(np.ascontiguousarray(blocks[start:start + step]).reshape(-1, block_bytes))
        for target, part in zip(out, parts):
            target[start:start + step] = part.reshape(-1, groups, target.shape[-1])
    return out


_BLOCK_BYTES = {"Q4_0": 18, "Q4_1": 20, "Q4_K": 144}


def _nibbles(qs: np.ndarray, run: int) -> np.ndarray:
    """Codes from bytes whose low nibbles hold ``run`` weights and high nibbles the next ``run``."""
    qs = qs.reshape(qs.shape[0], -1, 1, run)
    return ((qs >> np.array([0, 4], dtype=np.uint8).reshape(1, 1, 2, 1)) & np.uint8(15)).reshape(qs.shape[0], -1)


def _q4_0(blocks: np.ndarray):
    d = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    return _nibbles(blocks[:, 2:], 16), d, -8 * d


def _q4_1(blocks: np.ndarray):
    d = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    m = blocks[:, 2:4].copy().view(np.float16).astype(np.float32)
    return _nibbles(blocks[:, 4:], 16), d, m


def _q4_k(blocks: np.ndarray):
    from gguf.quants import Q4_K

    d = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    dmin = blocks[:, 2:4].copy().view(np.float16).astype(np.float32)
    sc, m = Q4_K.get_scale_min(blocks[:, 4:16])  # 6-bit scale and min per 32 weights, 8 per block
    return _nibbles(blocks[:, 16:], 32), (d * sc.astype(np.float32)).reshape(-1, 1), \
        (-dmin * m.astype(np.float32)).reshape(-1, 1)


def int8_grid_from_blocks(blocks: np.ndarray, kind, rows: int, cols: int) -> Int8Grid | None:
    """The int8 groups of a (rows, cols) weight stored as Q8_0 blocks (w = d * q, 32 per group), or
    None for other types."""
    from gguf import GGMLQuantizationType as Q

    readers = {Q.Q8_0: (_q8_0, 34, 32)}
    if kind not in readers:
        return None
    read, size, group = readers[kind]
    codes, scale = _by_rows(blocks, rows, cols, group, read, size, (np.int8, np.float32))
    return Int8Grid(codes=torch.from_numpy(codes), scale=torch.from_numpy(scale), exact=True)


def _q8_0(blocks: np.ndarray):
    return blocks[:, 2:].copy().view(np.int8), blocks[:, :2].copy().view(np.float16).astype(np.float32)

