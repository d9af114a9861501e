"""Generation with llama.cpp (llama-cpp-python, the optional extra ``foldrag[llamacpp]``).

The GGUF file is used in place (memory-mapped, no conversion); ``gpu_layers`` decoder layers go to
the GPU when llama.cpp was built with CUDA. The KV cache of the previous prompt and its reply is
kept, so a question whose prompt starts like the last one (the instructions; the same question
again) only evaluates the rest.

Example::

    gen = LlamaCppGenerator.load(settings.generation)
    print(complete(gen, [{"role": "user", "content": "Hi"}], max_tokens=32))
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import llama_cpp  # the optional extra: without it, the backend registry says what to install

from foldrag.core.contracts import Messages, TextStream
from foldrag.core.errors import ModelUnavailable
from foldrag.generation.llamacpp_cpu import load_cpu_backend
from foldrag.generation.model_files import gguf_source
from foldrag.generation.presets import Preset, apply_preset, choose_preset
from foldrag.generation.control_tokens import in_pieces
from foldrag.generation.streaming import cut_at_stops, utf8_pieces

log = logging.getLogger("foldrag.generation")

MAX_CONTEXT = 8192  # KV cache size cap: a 128k-token model would otherwise reserve gigabytes


def gguf_path(model: str) -> Path:
    """The GGUF file for a generation.model value; llama.cpp reads nothing else."""
    path = gguf_source(model)
    if path is not None:
        return path
    path = Path(model).expanduser()
    raise ModelUnavailable(
        f"generation model not found: the llamacpp backend needs a .gguf file, and {path.resolve()} is not one; "
        "set generation.model to a GGUF file, or generation.backend = 'transformers' for a Hugging Face folder"
    )


class LlamaCppGenerator:
    def __init__(self, llm, preset: Preset, name: str, template: str | None, cpu: str = "built-in") -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.llm = llm
        self.preset = preset
        self.name = name
        self.reasoning = preset.reasoning
        self.context_window = llm.n_ctx()
        self.engine = "llama.cpp" if cpu == "built-in" else f"llama.cpp/{cpu}"  # the CPU variant that runs it
        bos = llm.detokenize([llm.token_bos()], special=True).decode("utf-8", "ignore") if llm.token_bos() >= 0 else ""
        eos = llm.detokenize([llm.token_eos()], special=True).decode("utf-8", "ignore")
        self._format = Jinja2ChatFormatter(template, eos_token=eos, bos_token=bos) if template else None
        stop_ids = {llm.token_eos()}
        for text in preset.stop:
            ids = llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
            if len(ids) == 1:
                stop_ids.add(ids[0])
        self.stop_ids = frozenset(stop_ids)
        self._lock = threading.Lock()  # one llama.cpp context: one generation at a time

    @classmethod
    def load(cls, cfg) -> "LlamaCppGenerator":
        """Load ``cfg.model`` (a GGUF, named: ``load_generator`` resolves 'auto') per
        ``GenerationSettings``: gpu_layers, threads."""
        path = gguf_path(cfg.model)
        cpu = load_cpu_backend(cfg.llamacpp_cpu)  # a dispatch build's CPU back end, before the first model
        threads = cfg.threads or os.cpu_count() or 1
        gpu_layers = _gpu_layers(path, cfg)
        try:
            metadata = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False).metadata
            trained = int(metadata.get(f"{metadata.get('general.architecture', 'llama')}.context_length", 4096))
            n_ctx = min(trained, MAX_CONTEXT)
            template = metadata.get("tokenizer.chat_template")
            llm = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads,
                        n_gpu_layers=gpu_layers, use_mmap=True, verbose=False)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelUnavailable(f"llama.cpp could not load {path}: {exc}") from exc
        preset = choose_preset(cfg.preset, f"{cfg.model} {path.name}", template)
        log.info("llama.cpp: %s, context %d, %d threads, %d layers on the GPU, CPU variant %s", path.name, n_ctx,
                 threads, gpu_layers, cpu)
        return cls(llm, preset, name=cfg.model, template=template, cpu=cpu)

    # -- tokens
    def prompt_ids(self, messages: Messages) -> list[int]:
        messages = apply_preset(messages, self.preset)
        if self._format is None:  # a GGUF without a chat template: plain role-prefixed turns
            prompt = "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant:"
            return self.llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=False)
        added_special = []

        def render(marked: Messages) -> str:
            rendered = self._format(messages=marked)
            added_special.append(rendered.added_special)
            return rendered.prompt

        # the template's own text with its special tokens, every content as plain text (control_tokens.py)
        pieces = in_pieces(render, messages)
        ids: list[int] = []
        for n, (text, content) in enumerate(pieces):  # the first piece takes the BOS the model adds
            ids += self.llm.tokenize(text.encode("utf-8"), add_bos=n == 0 and not added_special[0], special=not content)
        return ids

    def prompt_tokens(self, messages: Messages) -> int:
        return len(self.prompt_ids(messages))

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    # -- generation
    def cache_stats(self) -> dict[str, float]:
        return {}  # llama.cpp keeps its own last prompt; it reports no figures to show here

    def stream(self, messages: Messages, *, max_tokens: int = 256, temperature: float | None = None,
               stop: tuple[str, ...] = ()) -> TextStream:
        ids = self.prompt_ids(messages)
        temperature, stops = self.preset.sampling(temperature, stop)
        return TextStream(lambda stream: self._pieces(stream, ids, max_tokens, temperature, stops))

    def _pieces(self, stream: TextStream, ids: list[int], max_tokens: int, temperature: float,
                stops: tuple[str, ...]) -> Iterator[str]:
        new: list[int] = []
        with self._lock:
            reused = _reused_prefix(self.llm.input_ids[:self.llm.n_tokens], ids)
            tokens = self.llm.generate(ids, temp=temperature or 0.0, top_p=self.preset.top_p if temperature else 1.0,
                                       top_k=40 if temperature else 1, min_p=0.0, repeat_penalty=1.0)

            def token_bytes() -> Iterator[bytes]:
                for token in tokens:
                    if token in self.stop_ids:
                        return
                    new.append(token)
                    yield self.llm.detokenize([token], prev_tokens=ids + new[:-1])
                    if len(new) >= max_tokens:
                        return

            try:
                yield from cut_at_stops(utf8_pieces(token_bytes()), stops)
            finally:
                tokens.close()
                stream.finish(prompt_tokens=len(ids), new_tokens=len(new), engine=self.engine, cached_tokens=reused,
                              prefill_work=(len(ids) - reused) / len(ids) if ids else 1.0)


def _reused_prefix(evaluated, ids: list[int]) -> int:
    """The prompt tokens llama.cpp takes from its cache: the longest run of ``ids`` its context
    already evaluated (the last prompt and its reply; llama-cpp-python's own measure), less one when
    that is all of ``ids`` (it evaluates the last again for fresh logits)."""
    from llama_cpp import Llama

    n = Llama.longest_token_prefix(evaluated.tolist(), ids)
    return n - 1 if n and n == len(ids) else n


def _gpu_layers(path: Path, cfg) -> int:
    """``n_gpu_layers`` from the same offload planner as the transformers backend: ``gpu_layers`` when
    set, else as many layers as fit in free VRAM (or ``max_gpu_memory``); 0 without CUDA or without a
    GPU build of llama.cpp."""
    from foldrag.core.hardware import cuda_available
    from foldrag.generation.offload import free_cuda_memory, measure_gguf, parse_bytes, plan_offload

    if cfg.device == "cpu" or not llama_cpp.llama_supports_gpu_offload():
        if cfg.gpu_layers:
            log.warning("gpu_layers=%d ignored: %s", cfg.gpu_layers, "generation.device is 'cpu'" if cfg.device == "cpu"
                        else "this llama-cpp-python was built without GPU support (CMAKE_ARGS=-DGGML_CUDA=on)")
        return 0
    cuda = cuda_available()
    plan = plan_offload(measure_gguf(path), cuda=cuda, free_vram=free_cuda_memory() if cuda else None,
                        gpu_layers=cfg.gpu_layers, max_gpu_memory=parse_bytes(cfg.max_gpu_memory))
    for note in plan.notes:
        log.warning(note)
    return plan.gpu_layers
