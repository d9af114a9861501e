"""Runs an exported sentence-transformers graph (``rag/embedding/onnx_export.py``) on onnxruntime or OpenVINO,
with the ``encode`` surface of a SentenceTransformer, so ``SentenceTransformerEmbedder`` wraps either.

Texts are tokenized as sentence-transformers does (stripped, lower-cased when the model says so,
truncated to its max_seq_length) and batched longest first, so a batch pads little.

Example::

    encoder = OnnxEncoder.load(files, runtime="onnx", quantized=True, threads=2)
    encoder.encode(["some text"], batch_size=32)   # (1, 384) float32, unit rows
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from foldrag.core.errors import ModelUnavailable
from foldrag.embedding.onnx_export import OnnxFiles

RUNTIMES = ("onnx", "openvino")


def runtime_missing(runtime: str) -> str | None:
    """Why ``runtime`` cannot run here (a one-line reason), or None."""
    import importlib.util

    package = {"onnx": "onnxruntime", "openvino": "openvino"}[runtime]
    if importlib.util.find_spec(package) is None:
        extra = "" if runtime == "onnx" else " (pip install 'foldrag[openvino]')"
        return f"{package} is not installed{extra}"
    return None


class OnnxEncoder:
    def __init__(self, files: OnnxFiles, run, tokenizer) -> None:
        self.files = files
        self._run = run  # {input name: int64 array} -> (batch, dimension) float32
        self.tokenizer = tokenizer

    @classmethod
    def load(cls, files: OnnxFiles, *, runtime: str, quantized: bool, threads: int) -> "OnnxEncoder":
        path = files.model(quantized)
        try:
            run = _onnxruntime(path, threads) if runtime == "onnx" else _openvino(path, threads)
            tokenizer = _tokenizer(files)
        except Exception as exc:  # a runtime that cannot load the graph: the caller falls back to torch
            raise ModelUnavailable(f"{runtime} cannot run {path}: {type(exc).__name__}: {exc}") from exc
        return cls(files, run, tokenizer)

    def get_embedding_dimension(self) -> int:
        return self.files.dimension

    def encode(self, texts: list[str], batch_size: int = 32, **_ignored) -> np.ndarray:
        """Unit vectors of ``texts`` (the graph normalizes, as the model's Normalize module does)."""
        if not texts:
            return np.zeros((0, self.files.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.empty((len(texts), self.files.dimension), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            out[rows] = self._run(self._tokenize([texts[i] for i in rows]))
        return out

    def _tokenize(self, texts: list[str]) -> dict[str, np.ndarray]:
        texts = [t.strip().lower() if self.files.do_lower_case else t.strip() for t in texts]
        encoded = self.tokenizer.encode_batch(texts)
        columns = {"input_ids": "ids", "attention_mask": "attention_mask", "token_type_ids": "type_ids"}
        return {name: np.array([getattr(e, columns[name]) for e in encoded], dtype=np.int64)
                for name in self.files.inputs}


def _tokenizer(files: OnnxFiles):
    """The export's fast tokenizer run by the ``tokenizers`` library itself, truncated to the model's
    max_seq_length and padded to the longest text: the same ids as transformers' tokenizer gives
    (tested), without importing transformers and torch (~3.5 s of a one-shot search)."""
    import json

    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(files.folder / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=files.max_seq_length)
    config = json.loads((files.folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    pad = config.get("pad_token")
    pad = pad.get("content") if isinstance(pad, dict) else pad
    pad_id = tokenizer.token_to_id(pad) if pad else None
    if pad_id is None:
        raise ModelUnavailable(f"{files.folder}: the tokenizer names no padding token")
    tokenizer.enable_padding(pad_id=pad_id, pad_token=pad, pad_type_id=int(config.get("pad_token_type_id", 0)),
                             direction=config.get("padding_side", "right"))
    return tokenizer


def session_options(threads: int):
    """onnxruntime's options for an embedder session: ``threads`` for one operator, one at a time."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: not the optimizer's notes
    # Idle pool threads sleep instead of spinning: spinning kept both cores of a 2-core EPYC busy after
    # each question, and the FAISS and BM25 searches that follow it ran at half speed (hybrid query p50
    # 25 ms spinning, 16 ms not, 100k chunks); batches of chunks ran at the same rate either way.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def _onnxruntime(path: Path, threads: int):
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), session_options(threads), providers=["CPUExecutionProvider"])
    return lambda feed: session.run(None, feed)[0]


def _openvino(path: Path, threads: int):
    import openvino as ov

    compiled = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_NUM_THREADS": threads})
    return lambda feed: compiled(feed)[0]
