"""Write a GGUF with the shapes of a bigger model and random Q4_0 weights, to measure memory and
speed of loading and decoding it (its text is noise). Never committed; written to a cache folder.

Usage:  .venv/bin/python bench/synthetic_gguf.py [--shape r1-7b] [--out ~/.cache/foldrag/bench]

Shapes: ``r1-7b`` is DeepSeek-R1-Distill-Qwen-7B (Qwen2: hidden 3584, 28 layers, MLP 18944,
28 query / 4 KV heads); ``r1-1.5b`` its 1.5B sibling. The tokenizer (vocabulary, merges, chat
template) is the bundled SmolLM2's, so the vocabulary is 49,152 rather than 152,064.
Q4_0 blocks are random bytes with one small fp16 scale: writing is as fast as the disk.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SHAPES = {
    "r1-7b": dict(hidden=3584, layers=28, mlp=18944, heads=28, kv_heads=4),
    "r1-1.5b": dict(hidden=1536, layers=28, mlp=8960, heads=12, kv_heads=2),
}


def q4_0(rows: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    """Random Q4_0 blocks for a rows x cols matrix: per 32 weights, an fp16 scale and 16 bytes."""
    blocks = rng.integers(0, 256, size=(rows, cols // 32, 18), dtype=np.uint8)
    blocks[..., 0:2] = np.frombuffer(np.float16(0.02).tobytes(), dtype=np.uint8)
    return blocks.reshape(rows, cols // 32 * 18)


def write(shape: str, out: Path) -> Path:
    import gguf

    from foldrag.generation.bundled import bundled_gguf

    s = SHAPES[shape]
    path = out / f"synthetic-{shape}-Q4_0.gguf"
    if path.exists():
        return path
    out.mkdir(parents=True, exist_ok=True)
    source = gguf.GGUFReader(str(bundled_gguf("bundled:SmolLM2-135M-Instruct")))
    writer = gguf.GGUFWriter(str(path) + ".tmp", "qwen2")
    writer.add_name(f"synthetic {shape} (random Q4_0 weights)")
    writer.add_context_length(32768)
    writer.add_embedding_length(s["hidden"])
    writer.add_block_count(s["layers"])
    writer.add_feed_forward_length(s["mlp"])
    writer.add_head_count(s["heads"])
    writer.add_head_count_kv(s["kv_heads"])
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_0)
    for key, field in source.fields.items():
        if key.startswith("tokenizer."):
            value = field.contents()
            vtype = field.types[0]
            sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
            writer.add_key_value(key, value, vtype, sub_type=sub)
    vocab = len(source.fields["tokenizer.ggml.tokens"].contents())
    rng = np.random.default_rng(0)
    hidden, head_dim = s["hidden"], s["hidden"] // s["heads"]
    kv = s["kv_heads"] * head_dim
    q = gguf.GGMLQuantizationType.Q4_0

    def add_q(name: str, rows: int, cols: int) -> None:
        writer.add_tensor(name, q4_0(rows, cols, rng), raw_dtype=q)  # shape read from the bytes

    def add_f32(name: str, values: np.ndarray) -> None:
        writer.add_tensor(name, values.astype(np.float32))

    add_q("token_embd.weight", vocab, hidden)
    for i in range(s["layers"]):
        add_f32(f"blk.{i}.attn_norm.weight", np.ones(hidden))
        add_q(f"blk.{i}.attn_q.weight", hidden, hidden)
        add_f32(f"blk.{i}.attn_q.bias", np.zeros(hidden))
        add_q(f"blk.{i}.attn_k.weight", kv, hidden)
        add_f32(f"blk.{i}.attn_k.bias", np.zeros(kv))
        add_q(f"blk.{i}.attn_v.weight", kv, hidden)
        add_f32(f"blk.{i}.attn_v.bias", np.zeros(kv))
        add_q(f"blk.{i}.attn_output.weight", hidden, hidden)
        add_f32(f"blk.{i}.ffn_norm.weight", np.ones(hidden))
        add_q(f"blk.{i}.ffn_gate.weight", s["mlp"], hidden)
        add_q(f"blk.{i}.ffn_up.weight", s["mlp"], hidden)
        add_q(f"blk.{i}.ffn_down.weight", hidden, s["mlp"])
    add_f32("output_norm.weight", np.ones(hidden))
    add_q("output.weight", vocab, hidden)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(str(path) + ".tmp", path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shape", choices=sorted(SHAPES), default="r1-7b")
    parser.add_argument("--out", type=Path, default=Path.home() / ".cache" / "foldrag" / "bench")
    args = parser.parse_args()
    path = write(args.shape, args.out)
    print(f"{path} ({path.stat().st_size / 2**30:.2f} GiB)")


if __name__ == "__main__":
    main()
