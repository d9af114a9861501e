"""Local generation with transformers/torch: CPU, full GPU, or layers split across GPU, CPU and disk.

Example::

    gen = TransformersGenerator.load(settings.generation)
    stream = gen.stream([{"role": "user", "content": "Hi"}], max_tokens=32)
    for piece in stream:
        print(piece, end="")
    print(stream.stats.tokens_per_s)
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from foldrag.core.contracts import Messages, TextStream
from foldrag.core.errors import MissingDependency, ModelUnavailable
from foldrag.generation.decoding import DecodeLoop, Sampling, unsupported_reason
from foldrag.generation.model_files import gguf_source, linear_weights
from foldrag.generation.offload import OffloadPlan, free_cuda_memory, measure_model, parse_bytes, plan_offload
from foldrag.generation.prefix_cache import PrefixCache, Prefilled
from foldrag.generation.presets import Preset, apply_preset, choose_preset, render_plain
from foldrag.generation.control_tokens import in_pieces
from foldrag.generation.streaming import cut_at_stops
from foldrag.core.hardware import cuda_available, preferred_dtype

if TYPE_CHECKING:
    from foldrag.generation.packed_weights import PackReport

log = logging.getLogger("foldrag.generation")


class _Cancelled:
    """A stopping criterion that ends generation when the consumer has gone away."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


class TransformersGenerator:
    def __init__(self, model, tokenizer, preset: Preset, name: str, plan: OffloadPlan | None = None,
                 decode_loop: str = "auto", weights: PackReport | None = None,
                 prefix_cache: bool = True) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.preset = preset
        self.name = name
        self.plan = plan
        self.weights = weights  # how the CPU weights were packed; None when not on the CPU alone
        self.loop = _choose_loop(model, decode_loop)
        # the shared prompt prefix reused across prompts (prefix_cache.py): foldrag's loop only
        self.prefixes = PrefixCache(self.loop) if prefix_cache and self.loop is not None else None
        self.stop_ids = _stop_ids(model, tokenizer, preset)
        self.context_window = int(getattr(model.config, "max_position_embeddings", 4096) or 4096)
        self.reasoning = preset.reasoning

    @classmethod
    def load(cls, cfg) -> "TransformersGenerator":
        """Load per ``GenerationSettings`` (``model`` named, not 'auto': ``load_generator`` resolves it):
        device, gpu_layers/max_gpu_memory, and ``transformers.*`` (offload_folder, dtype, 4-bit,
        decode loop, CPU weight packing)."""
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

        from foldrag.generation.model_files import resolve_model_folder

        tf = cfg.transformers
        cache = Path(tf.cache_dir) if tf.cache_dir else _default_cache()
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        want_cuda = cfg.device in ("auto", "cuda")
        has_cuda = cuda_available()
        if cfg.device == "cuda" and not has_cuda:
            log.warning("generation.device is 'cuda' but CUDA is not available: running on the CPU")
        on_cuda = want_cuda and has_cuda
        gguf = gguf_source(cfg.model)  # cfg.model is resolved ('auto' named) by load_generator
        if gguf is not None and not on_cuda and not tf.offload_folder:
            return cls._load_gguf_on_cpu(cfg, gguf, cache)
        folder = resolve_model_folder(cfg.model, cache)
        cpu_alone = not on_cuda and not tf.offload_folder
        if cpu_alone:
            dtype, mode, prompt_dtype = _cpu_plan(tf, False, AutoConfig.from_pretrained(str(folder)))
        else:
            dtype = getattr(torch, preferred_dtype(tf.dtype, on_cuda))
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
        kwargs: dict = {"dtype": dtype}
        plan = None
        if on_cuda or tf.offload_folder:  # layers placed by the planner: GPU as fit, then CPU, then disk
            plan = _offload_plan(folder, dtype, cfg, cuda=on_cuda)
            kwargs["device_map"] = plan.device_map
            if tf.offload_folder:
                kwargs["offload_folder"] = tf.offload_folder
        if on_cuda and tf.load_in_4bit:
            try:
                from transformers import BitsAndBytesConfig
                import bitsandbytes  # noqa: F401
            except ImportError as exc:
                raise MissingDependency("load_in_4bit needs bitsandbytes: pip install bitsandbytes") from exc
            kwargs["quantization_config"] = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype=dtype)
        try:
            model = AutoModelForCausalLM.from_pretrained(str(folder), **kwargs)
        except Exception as exc:
            raise ModelUnavailable(f"could not load generation model from {folder}: {exc}") from exc
        model.eval()
        weights = None
        if cpu_alone:
            from foldrag.generation.packed_weights import pack_for_cpu

            weights = pack_for_cpu(model, mode, prompt_dtype=prompt_dtype)
            log.info("CPU weights: %s", weights.describe())
            _keep_prompt_weights(model, tf)
        elif tf.cpu_quantize == "int4":
            log.warning("generation.transformers.cpu_quantize = 'int4' applies to a model wholly on the CPU; ignored here")
        if plan is not None:
            for note in plan.notes:
                log.warning(note)
            log.info("offload plan: %s", plan.describe())
            for module, device in plan.device_map.items():
                log.debug("%s -> %s", module, device)
        preset = choose_preset(cfg.preset, f"{cfg.model} {folder.name}", tokenizer.chat_template)
        return cls(model, tokenizer, preset, name=f"{cfg.model}", plan=plan, decode_loop=tf.decode_loop,
                   weights=weights, prefix_cache=cfg.kv_reuse != "off")

    @classmethod
    def _load_gguf_on_cpu(cls, cfg, gguf: Path, cache: Path) -> "TransformersGenerator":
        """A GGUF wholly on the CPU: read tensor by tensor into its run form (gguf_loading.py), with
        the dtype, packing and prompt dtype the CPU probe chose (or the ones set)."""
        from transformers import AutoConfig

        from foldrag.generation.gguf_loading import load_gguf, tokenizer_and_config

        tf = cfg.transformers
        dtype, mode, prompt_dtype = _cpu_plan(tf, True, AutoConfig.from_pretrained(str(tokenizer_and_config(gguf, cache))))
        model, tokenizer, weights = load_gguf(gguf, dtype=dtype, pack=mode, cache_dir=cache, prompt_dtype=prompt_dtype)
        log.info("CPU weights: %s", weights.describe())
        _keep_prompt_weights(model, tf)
        preset = choose_preset(cfg.preset, f"{cfg.model} {gguf.name}", tokenizer.chat_template)
        return cls(model, tokenizer, preset, name=f"{cfg.model}", plan=None, decode_loop=tf.decode_loop, weights=weights,
                   prefix_cache=cfg.kv_reuse != "off")

    # -- tokens
    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def prompt_ids(self, messages: Messages):
        import torch

        messages = apply_preset(messages, self.preset)
        if not self.tokenizer.chat_template:  # a base model: plain text, no control token read in it
            return self.tokenizer(render_plain(messages), return_tensors="pt", split_special_tokens=True)["input_ids"]
        # the template's own text with its special tokens, every content as plain text (control_tokens.py)
        pieces = in_pieces(lambda marked: self.tokenizer.apply_chat_template(
            marked, add_generation_prompt=True, tokenize=False), messages)
        ids = [i for text, content in pieces
               for i in self.tokenizer(text, add_special_tokens=False, split_special_tokens=content)["input_ids"]]
        return torch.tensor([ids], dtype=torch.long)

    def prompt_tokens(self, messages: Messages) -> int:
        return int(self.prompt_ids(messages).shape[1])

    def cache_stats(self) -> dict[str, float]:
        """The shared-prefix cache's size and reads (``generation.kv_reuse``); empty when it is off."""
        if self.prefixes is None:
            return {}
        return dataclasses.asdict(self.prefixes.stats())

    # -- generation
    def stream(self, messages: Messages, *, max_tokens: int = 256, temperature: float | None = None,
               stop: tuple[str, ...] = ()) -> TextStream:
        """Text pieces as they are generated, with this call's stats; closing the stream stops the model."""
        input_ids = self.prompt_ids(messages)
        temperature, stops = self.preset.sampling(temperature, stop)
        return TextStream(lambda stream: self._pieces(stream, input_ids, max_tokens, temperature, stops))

    def _pieces(self, stream: TextStream, input_ids, max_tokens: int, temperature: float,
                stops: tuple[str, ...]) -> Iterator[str]:
        detokenizer = None
        runs: list[Prefilled] = []
        if self.loop is not None:
            sampling = Sampling(temperature or 0.0, self.preset.top_p if temperature else 1.0)
            detokenizer = _Detokenizer(self.tokenizer)
            prompt = input_ids[0].tolist()
            prefill = self.prefixes.prefill(prompt, runs) if self.prefixes is not None else None
            pieces = detokenizer.pieces(self.loop.tokens(input_ids, max_tokens, self.stop_ids, sampling,
                                                         prefill=prefill))
        else:
            pieces = self._generate_pieces(input_ids, max_tokens, temperature, stops)
        emitted = ""
        try:
            for piece in cut_at_stops(pieces, stops):
                emitted += piece
                yield piece
        finally:
            pieces.close()
            if detokenizer is not None:
                new_tokens = len(detokenizer.ids)
                if runs and self.prefixes is not None:
                    # every reply token but the last was fed back: their caches are filled
                    self.prefixes.remember(prompt + detokenizer.ids[:-1], runs[0])
            else:
                new_tokens = len(self.tokenizer.encode(emitted, add_special_tokens=False)) if emitted else 0
            n = int(input_ids.shape[1])
            cached = runs[0].cached_tokens if runs else 0
            stream.finish(prompt_tokens=n, new_tokens=new_tokens,
                          engine="transformers/" + ("foldrag-loop" if self.loop is not None else "generate"),
                          cached_tokens=cached, prefill_work=(n - cached) / n if n else 1.0)

    def _generate_pieces(self, input_ids, max_tokens: int, temperature: float, stops: tuple[str, ...]) -> Iterator[str]:
        """Text pieces from ``model.generate`` in a thread (models foldrag's loop does not run)."""
        import torch
        from transformers import StoppingCriteriaList, TextIteratorStreamer

        input_ids = input_ids.to(self.model.device)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600)
        cancel = threading.Event()
        kwargs = dict(
            input_ids=input_ids, attention_mask=torch.ones_like(input_ids), max_new_tokens=max_tokens,
            streamer=streamer, stopping_criteria=StoppingCriteriaList([_Cancelled(cancel)]),
            pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
        )
        if stops:
            kwargs.update(stop_strings=list(stops), tokenizer=self.tokenizer)
        if temperature and temperature > 0:
            kwargs.update(do_sample=True, temperature=temperature, top_p=self.preset.top_p)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        errors: list[BaseException] = []

        def run() -> None:
            try:
                with torch.inference_mode():
                    self.model.generate(**kwargs)
            except BaseException as exc:  # surfaced in the consumer's thread below
                errors.append(exc)
                streamer.end()

        thread = threading.Thread(target=run, name="foldrag-generate", daemon=True)
        thread.start()
        try:
            yield from streamer
        finally:
            cancel.set()
            thread.join()
        if errors:
            raise errors[0]


class _Detokenizer:
    """Token ids → text pieces, holding back a partial UTF-8 character; ``ids`` are those seen so far."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.ids: list[int] = []

    def pieces(self, tokens: Iterator[int]) -> Iterator[str]:
        emitted = ""
        try:
            for token in tokens:
                self.ids.append(token)
                text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
                if text.endswith("\ufffd") or len(text) <= len(emitted):
                    continue
                piece = text[len(emitted):]  # decoding more ids only appends to the text in practice
                emitted = text
                yield piece
        finally:
            tokens.close()


def _cpu_plan(tf, quantized_file: bool, config):
    """(load dtype, packing mode, prompt dtype) for a model wholly on the CPU: under dtype 'auto' the
    probe's per-phase choice (cpu_probe.py), measured once per machine; otherwise the settings."""
    import torch

    if tf.dtype != "auto":
        dtype = getattr(torch, preferred_dtype(tf.dtype, False))
        return dtype, tf.cpu_quantize, dtype
    from foldrag.generation.cpu_probe import cpu_choice

    choice = cpu_choice(quantized_file=quantized_file, linear_weights=linear_weights(config))
    mode = tf.cpu_quantize
    if quantized_file and not choice.pack and mode == "auto":
        mode = "off"  # measured: the packed kernel is not the fastest decode on this CPU
    return getattr(torch, choice.load_dtype), mode, getattr(torch, choice.prefill_dtype)


def _choose_loop(model, setting: str) -> DecodeLoop | None:
    """foldrag's decode loop unless the settings or the model rule it out."""
    if setting == "transformers":
        return None
    reason = unsupported_reason(model)
    if reason is None:
        return DecodeLoop(model)
    if setting == "foldrag":
        raise ModelUnavailable(f"generation.transformers.decode_loop = 'foldrag' cannot run this model: {reason}")
    log.info("decoding with model.generate: %s", reason)
    return None


def _stop_ids(model, tokenizer, preset: Preset) -> frozenset[int]:
    """End-of-sequence ids of the model, plus stop strings that are single tokens of its vocabulary."""
    ids: set[int] = set()
    for value in (getattr(model.generation_config, "eos_token_id", None), tokenizer.eos_token_id):
        if isinstance(value, int):
            ids.add(value)
        elif value:
            ids.update(int(v) for v in value)
    vocab = tokenizer.get_vocab()
    ids.update(vocab[s] for s in preset.stop if s in vocab)
    return frozenset(ids)


def _keep_prompt_weights(model, tf) -> None:
    """Keep the int4 layers' prompt weights unpacked when ``prompt_weights`` says so (see the setting)."""
    from foldrag.core.hardware import available_memory
    from foldrag.generation.packed_weights import (KEEP_RESERVE, keep_prompt_weights, prompt_weights_bytes,
                                                   should_keep_prompt_weights)

    needed = prompt_weights_bytes(model)
    if not needed:
        return
    available = available_memory() if tf.prompt_weights == "auto" else None
    if should_keep_prompt_weights(tf.prompt_weights, needed, available):
        log.info("prompt weights kept unpacked: %d MiB more memory (prompt_weights=%s)",
                 keep_prompt_weights(model) >> 20, tf.prompt_weights)
    elif tf.prompt_weights == "auto":
        log.info("prompt weights unpacked for each prompt: keeping them (%d MiB) would leave less than %d GiB "
                 "of the %s available", needed >> 20, KEEP_RESERVE >> 30, "?" if available is None else f"{available >> 20} MiB")


def _default_cache() -> Path:
    from foldrag.generation.bundled import default_model_cache

    return default_model_cache()


def _offload_plan(folder: Path, dtype, cfg, *, cuda: bool) -> OffloadPlan:
    """Where each layer of the model in ``folder`` goes: measured on an empty skeleton (no weights
    read), then planned onto the GPU as fits (``gpu_layers``, ``max_gpu_memory``) or, on the CPU,
    within ``transformers.cpu_memory``; the rest to ``transformers.offload_folder``."""
    from accelerate import init_empty_weights
    from transformers import AutoConfig, AutoModelForCausalLM

    tf = cfg.transformers
    with init_empty_weights():
        skeleton = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(str(folder)), dtype=dtype)
    if cuda:
        return plan_offload(measure_model(skeleton), cuda=True, free_vram=free_cuda_memory(), gpu_layers=cfg.gpu_layers,
                            max_gpu_memory=parse_bytes(cfg.max_gpu_memory), offload_folder=tf.offload_folder)
    return plan_offload(measure_model(skeleton), cuda=False, cpu_memory=parse_bytes(tf.cpu_memory),
                        offload_folder=tf.offload_folder)
