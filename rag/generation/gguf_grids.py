"""A GGUF tensor's 4-bit grid read straight from its quantized blocks: the codes, scale and offset
of every group of 32 weights, with no dequantizing and no fitting.

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

from rag.generation.packed_weights import GROUP, Grid


def grid_from_blocks(blocks: np.ndarray, kind, rows: int, cols: int) -> Grid | None:
    """The grid of a (rows, cols) weight stored as GGUF ``kind`` blocks (a uint8 array, one row of
    blocks per weight row), or None for a type without 4-bit groups of 32."""
    from gguf import GGMLQuantizationType as Q

    readers = {Q.Q4_0: _q4_0, Q.Q4_1: _q4_1, Q.Q4_K: _q4_k}
    if kind not in readers or cols % GROUP:
        return None
    codes, scale, offset = readers[kind](np.ascontiguousarray(blocks).reshape(-1, _BLOCK_BYTES[kind.name]))
    shape = (rows, cols // GROUP)
    return Grid(codes=torch.from_numpy(codes).reshape(*shape, GROUP),
                scale=torch.from_numpy(scale).reshape(*shape, 1),
                offset=torch.from_numpy(offset).reshape(*shape, 1), exact=True)


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
