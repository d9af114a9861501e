"""4-bit grids read straight from GGUF blocks equal what gguf-py's dequantizer makes of the same bytes."""

from __future__ import annotations

import pytest

np = pytest.importorskip("numpy")
gguf = pytest.importorskip("gguf")
torch = pytest.importorskip("torch")

from foldrag.generation.gguf_grids import grid_from_blocks, int8_grid_from_blocks  # noqa: E402

Q = gguf.GGMLQuantizationType
# byte ranges of each block's fp16 fields: random bytes there could be inf or nan
HALVES = {Q.Q4_0: [(0, 2)], Q.Q4_1: [(0, 2), (2, 4)], Q.Q4_K: [(0, 2), (2, 4)], Q.Q8_0: [(0, 2)],
          Q.Q6_K: [(208, 210)]}


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


@pytest.mark.parametrize(("kind", "group"), [(Q.Q8_0, 32)])
def test_int8_groups_read_from_blocks_are_the_dequantized_tensor(kind, group):
    rows, cols = 48, 512
    blocks = _random_blocks(kind, rows, cols)
    grid = int8_grid_from_blocks(blocks, kind, rows, cols)
    assert grid is not None and grid.codes.shape == (rows, cols // group, group)
    weights = (grid.codes.float() * grid.scale).reshape(rows, cols)
    expected = torch.from_numpy(gguf.dequantize(blocks, kind).reshape(rows, cols))
    assert torch.allclose(weights, expected, rtol=1e-6, atol=1e-7)


def test_types_without_such_groups_take_the_other_path():
    blocks = np.zeros((4, 34 * 2), dtype=np.uint8)
    assert grid_from_blocks(blocks, Q.Q8_0, 4, 64) is None
    assert int8_grid_from_blocks(blocks, Q.Q4_0, 4, 64) is None
    assert int8_grid_from_blocks(blocks, Q.Q6_K, 4, 64) is None  # its 16-wide groups run faster dequantized


def test_a_q4_embedding_table_looks_up_exact_rows_from_4bit_codes():
    from foldrag.generation.packed_weights import Int4Embedding

    rows, cols = 40, 256
    blocks = _random_blocks(Q.Q4_K, rows, cols)
    table = Int4Embedding(grid_from_blocks(blocks, Q.Q4_K, rows, cols), dtype=torch.float32)
    expected = torch.from_numpy(gguf.dequantize(blocks, Q.Q4_K).reshape(rows, cols))
    ids = torch.tensor([[3, 0, 39], [7, 7, 12]])
    got = table(ids)
    assert got.shape == (2, 3, cols) and got.dtype == torch.float32
    assert torch.allclose(got, expected[ids], rtol=1e-6, atol=1e-7)
    held = sum(t.numel() * t.element_size() for t in table.buffers())
    assert held < expected.numel() * 4 / 4  # under a quarter of the fp32 table


def test_a_cast_linear_holds_bf16_weights_and_returns_the_models_dtype():
    from foldrag.generation.packed_weights import CastLinear

    rows, cols = 32, 256
    weight = torch.from_numpy(gguf.dequantize(_random_blocks(Q.Q6_K, rows, cols), Q.Q6_K).reshape(rows, cols))
    bias = torch.randn(rows)
    layer = CastLinear(weight, bias, torch.bfloat16)
    assert layer.weight.dtype == torch.bfloat16
    x = torch.randn(2, 5, cols)
    got, expected = layer(x), torch.nn.functional.linear(x, weight, bias)
    assert got.dtype == torch.float32 and got.shape == expected.shape
    assert (got - expected).abs().max() <= 2e-2 * expected.abs().max()


def test_a_corrupt_gguf_fails_with_a_clear_error_and_leaves_no_cache_entry(tmp_path):
    from foldrag.core.errors import ModelUnavailable
    from foldrag.generation.gguf_loading import tokenizer_and_config

    junk = tmp_path / "broken.gguf"
    junk.write_bytes(b"GGUF" + bytes(range(256)) * 64)
    with pytest.raises(ModelUnavailable, match="could not read GGUF .*broken.gguf"):
        tokenizer_and_config(junk, tmp_path / "cache")
    assert not any(p.name.endswith("-tokenizer") for p in (tmp_path / "cache").glob("*"))
