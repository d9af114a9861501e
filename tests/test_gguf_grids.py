"""4-bit grids read straight from GGUF blocks equal what gguf-py's dequantizer makes of the same bytes."""

from __future__ import annotations

import pytest

np = pytest.importorskip("numpy")
gguf = pytest.importorskip("gguf")
torch = pytest.importorskip("torch")

from rag.generation.gguf_grids import grid_from_blocks  # noqa: E402

Q = gguf.GGMLQuantizationType
# byte ranges of each block's fp16 fields: random bytes there could be inf or nan
HALVES = {Q.Q4_0: [(0, 2)], Q.Q4_1: [(0, 2), (2, 4)], Q.Q4_K: [(0, 2), (2, 4)]}


def _random_blocks(kind, rows: int, cols: int, seed: int = 0) -> np.ndarray:
    block_weights, block_bytes = gguf.GGML_QUANT_SIZES[kind]
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, size=(rows, cols // block_weights, block_bytes), dtype=np.uint8)
    for start, end in HALVES[kind]:
        values = rng.uniform(-0.05, 0.05, size=blocks.shape[:2]).astype(np.float16)
        blocks[..., start:end] = values[..., None].view(np.uint8)
    return blocks.reshape(rows, -1)


@pytest.mark.parametrize("kind", [Q.Q4_0, Q.Q4_1, Q.Q4_K])
def test_a_grid_read_from_blocks_is_the_dequantized_tensor(kind):
    rows, cols = 48, 512
    blocks = _random_blocks(kind, rows, cols)
    grid = grid_from_blocks(blocks, kind, rows, cols)
    assert grid is not None and grid.exact
    assert grid.codes.shape == (rows, cols // 32, 32) and int(grid.codes.max()) <= 15
    weights = (grid.codes.float() * grid.scale + grid.offset).reshape(rows, cols)
    expected = torch.from_numpy(gguf.dequantize(blocks, kind).reshape(rows, cols))
    assert torch.allclose(weights, expected, rtol=1e-6, atol=1e-7)


def test_types_without_4bit_groups_take_the_other_path():
    blocks = np.zeros((4, 34 * 2), dtype=np.uint8)
    assert grid_from_blocks(blocks, Q.Q8_0, 4, 64) is None
