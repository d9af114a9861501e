"""A sentence-transformers model as an ONNX graph (fp32 and dynamically quantized int8), exported once
into the model cache and reused.

The whole pipeline is in the graph — transformer, pooling, normalization — traced from the loaded
model, so the runtimes (``rag/embedding/onnx_encoder.py``) only tokenize and run it. The export folder is keyed
by the digest of the model's files; it is written under a temporary name and renamed into place, so
a killed export leaves nothing half-written. Nothing is downloaded.

Why not sentence-transformers' own ``backend="onnx"``: it needs optimum-onnx, which pins
transformers < 4.58, and ``backend="openvino"`` needs optimum-intel, which pins transformers < 5.6 and
a CUDA torch; foldrag's generation needs transformers 5 (GGUF loading). onnxruntime's own exporter
path (torch.onnx) and quantizer have no such pins.

Example::

    files = export_onnx(Path("/models/all-MiniLM-L6-v2"), default_cache_dir())
    files.model(quantized=True)   # .../model-int8.onnx
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from foldrag.core.errors import ModelUnavailable

log = logging.getLogger("foldrag.embedding")

EXPORT_VERSION = 2
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
SKIPPED_FILES = {"README.md", ".gitattributes"}  # not part of what the vectors depend on


@dataclass(frozen=True)
class OnnxFiles:
    """An export folder: ``model.onnx``, ``model-int8.onnx``, the tokenizer and ``export.json``."""

    folder: Path
    inputs: tuple[str, ...]
    dimension: int
    max_seq_length: int
    do_lower_case: bool
    digest: str

    def model(self, quantized: bool) -> Path:
        return self.folder / ("model-int8.onnx" if quantized else "model.onnx")

    @classmethod
    def read(cls, folder: Path) -> "OnnxFiles":
        meta = json.loads((folder / "export.json").read_text(encoding="utf-8"))
        return cls(folder, tuple(meta["inputs"]), int(meta["dimension"]), int(meta["max_seq_length"]),
                   bool(meta["do_lower_case"]), str(meta["digest"]))


def model_digest(path: Path) -> str:
    """SHA-256 over the names and bytes of the model folder's files (what its vectors depend on).
    Hashed once per process while the files' sizes and mtimes stay the same (the runtime choice and
    the export both need it)."""
    files = tuple(sorted(p for p in path.rglob("*") if p.is_file() and p.name not in SKIPPED_FILES))
    return _digest(path, files, tuple((f.stat().st_size, f.stat().st_mtime_ns) for f in files))


@functools.cache
def _digest(path: Path, files: tuple[Path, ...], _stats: tuple) -> str:
    digest = hashlib.sha256(f"foldrag-onnx-export-{EXPORT_VERSION}".encode())
    for file in files:
        digest.update(str(file.relative_to(path)).encode() + b"\0")
        with open(file, "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "foldrag" / "embedders"


def export_onnx(model_path: Path, cache_dir: Path, *,
                exporter: Callable[[Path, Path], dict] | None = None) -> OnnxFiles:
    """The export of the sentence-transformers folder ``model_path``: from ``cache_dir`` when it is
    there, else made now (seconds for a MiniLM) and kept there. ``exporter(model_path, out)`` writes
    the graphs and tokenizer into ``out`` and returns the export's facts (default: torch.onnx and
    onnxruntime's quantizer; tests pass their own). Raises ModelUnavailable when the model cannot be
    exported (its runtime then falls back to torch)."""
    digest = model_digest(model_path)
    folder = cache_dir / f"{model_path.resolve().name}-{digest[:16]}"
    try:
        return OnnxFiles.read(folder)
    except (OSError, ValueError, KeyError):
        pass
    t0 = time.perf_counter()
    log.warning("exporting the embedder %s to ONNX once (fp32 and int8); kept in %s", model_path.name, folder)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache_dir / f".{folder.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        meta = (exporter or _export)(model_path, tmp)
        (tmp / "export.json").write_text(json.dumps(dict(meta, digest=digest)), encoding="utf-8")
        try:
            os.rename(tmp, folder)
        except OSError:  # another process finished the same export first
            if not (folder / "export.json").exists():
                raise
    except ModelUnavailable:
        raise
    except Exception as exc:  # an exporter or quantizer failure is this model's problem, said in one line
        raise ModelUnavailable(f"could not export {model_path} to ONNX: {type(exc).__name__}: {exc}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("ONNX export of %s took %.1f s", model_path.name, time.perf_counter() - t0)
    return OnnxFiles.read(folder)


def _export(model_path: Path, out: Path) -> dict:
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(model_path), device="cpu", local_files_only=True)
    tokenizer = st.tokenizer
    inputs = tuple(name for name in INPUTS if name in tokenizer.model_input_names)
    if "input_ids" not in inputs or "attention_mask" not in inputs:
        raise ModelUnavailable(f"{model_path}: its tokenizer gives {tokenizer.model_input_names}, not input ids and a mask")

    class Pipeline(torch.nn.Module):
        """The model's modules from token ids to its (pooled, normalized) sentence embedding."""

        def __init__(self) -> None:
            super().__init__()
            self.st = st

        def forward(self, *tensors):
            return self.st(dict(zip(inputs, tensors)))["sentence_embedding"]

    sample = tokenizer(["an example sentence", "a second, longer example sentence"], padding=True, return_tensors="pt")
    axes = {name: {0: "batch", 1: "tokens"} for name in inputs}
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about Python control flow on shapes
        torch.onnx.export(Pipeline().eval(), tuple(sample[name] for name in inputs), str(out / "model.onnx"),
                          input_names=list(inputs), output_names=["sentence_embedding"],
                          dynamic_axes={**axes, "sentence_embedding": {0: "batch"}}, opset_version=17, dynamo=False)
    # int8 weights per channel (per tensor, MiniLM's vectors fell to a mean cosine of 0.76-0.94 with
    # fp32's), uint8 (closer than int8 on AVX2 and AVX-512 alike), and the attention's query/key/value
    # projections kept in fp32: the other linear layers hold three quarters of the work, and mean cosine on
    # SciFact went 0.9941 -> 0.9952, min 0.9903 -> 0.9910 (docs/BENCHMARKS.md). Other architectures'
    # names differ: all their MatMuls are quantized, and the probe's quality bound decides.
    import onnx

    graph = onnx.load(str(out / "model.onnx"), load_external_data=False).graph
    keep = [node.name for node in graph.node if node.op_type == "MatMul" and "/attention/self/" in node.name]
    logging.disable(logging.WARNING)  # the quantizer's advice to pre-process, on the root logger, every time
    try:
        quantize_dynamic(str(out / "model.onnx"), str(out / "model-int8.onnx"), weight_type=QuantType.QUInt8,
                         per_channel=True, nodes_to_exclude=keep)
    finally:
        logging.disable(logging.NOTSET)
    tokenizer.save_pretrained(str(out))
    return {"inputs": list(inputs), "dimension": int(st.get_embedding_dimension()),
            "max_seq_length": int(st.max_seq_length),
            "do_lower_case": bool(getattr(st[0], "do_lower_case", False))}
