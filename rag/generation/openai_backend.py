"""Generation by an OpenAI-compatible server the user already runs: Ollama, vLLM, llama.cpp's server.

``generation.base_url`` (e.g. ``http://localhost:11434/v1``), ``generation.model`` (the server's
name for it, e.g. ``deepseek-r1:7b``), optionally ``generation.api_key``. Needs the ``openai``
package (``pip install 'foldrag[openai]'``).

Reasoning models served this way return their thinking either inline (``<think>…</think>``) or
apart (``reasoning_content``, or ``reasoning`` in Ollama); apart, it is streamed wrapped in
``<think>`` tags, so it lands in the answer's ``reasoning`` on every backend.

Token counts for packing the prompt are estimates (the API has no tokenizer): a token per 3 bytes
of UTF-8, which over-counts English (~4 bytes a token) and Korean (~3–4 bytes), so the budget
holds; ``generation.context_window`` is the server model's window.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator

import openai  # the optional extra: without it, the backend registry says what to install

from foldrag.core.contracts import Messages, TextStream
from foldrag.core.errors import ModelUnavailable
from foldrag.generation.presets import Preset, apply_preset, choose_preset
from foldrag.generation.control_tokens import defused_messages

log = logging.getLogger("foldrag.generation")

BYTES_PER_TOKEN = 3
TOKENS_PER_MESSAGE = 4  # role markers and separators of a chat template


class OpenAIGenerator:
    def __init__(self, client, model: str, base_url: str, preset: Preset, context_window: int) -> None:
        self._client = client
        self.model = model
        self.base_url = base_url
        self.preset = preset
        self.name = f"{model} @ {base_url}"
        self.reasoning = preset.reasoning
        self.context_window = context_window

    @classmethod
    def load(cls, cfg) -> "OpenAIGenerator":
        """Connect to ``cfg.base_url`` and check it answers; raises ModelUnavailable when it does not."""
        if not cfg.base_url:
            raise ModelUnavailable("generation.backend = 'openai' needs generation.base_url "
                                   "(e.g. http://localhost:11434/v1 for Ollama)")
        key = cfg.api_key.get_secret_value() if cfg.api_key else "unused"
        client = openai.OpenAI(base_url=cfg.base_url, api_key=key, timeout=cfg.timeout_s, max_retries=cfg.retries)
        with _server_errors(cfg.base_url, cfg.model):
            served = [m.id for m in client.models.list()]
        model = cfg.model
        if model == "auto":  # the server's first model
            if not served:
                raise ModelUnavailable(f"the server at {cfg.base_url} lists no model; set generation.model")
            model = served[0]
        elif model not in served:  # some servers (llama.cpp's) answer under any name; others will 404
            log.warning("the server at %s lists %s, not %r; asking for %r anyway", cfg.base_url, served[:5],
                        model, model)
        preset = choose_preset(cfg.preset, model, None)
        return cls(client, model, cfg.base_url, preset, cfg.context_window)

    # -- tokens (estimates: see the module doc)
    def count_tokens(self, text: str) -> int:
        return math.ceil(len(text.encode("utf-8")) / BYTES_PER_TOKEN)

    def prompt_tokens(self, messages: Messages) -> int:
        return sum(self.count_tokens(m["content"]) + TOKENS_PER_MESSAGE for m in apply_preset(messages, self.preset)) + 2

    # -- generation
    def cache_stats(self) -> dict[str, float]:
        return {}  # the server keeps its own caches

    def stream(self, messages: Messages, *, max_tokens: int = 256, temperature: float | None = None,
               stop: tuple[str, ...] = ()) -> TextStream:
        temperature = self.preset.temperature if temperature is None else temperature
        # the server applies the chat template: strings that look like its control tokens are broken
        request = dict(model=self.model, messages=defused_messages(apply_preset(messages, self.preset)),
                       max_tokens=max_tokens,
                       temperature=temperature, stream=True, stream_options={"include_usage": True})
        if temperature:
            request["top_p"] = self.preset.top_p
        if stop:
            request["stop"] = list(stop)[:4]  # the API takes at most four
        return TextStream(lambda stream: self._pieces(stream, request))

    def _pieces(self, stream: TextStream, request: dict) -> Iterator[str]:
        pieces = 0
        usage = None
        thinking = False
        response = None
        try:
            with _server_errors(self.base_url, self.model):
                response = self._client.chat.completions.create(**request)
                for chunk in response:
                    usage = chunk.usage or usage
                    if not chunk.choices:
                        continue
                    delta = chunk.choices[0].delta
                    extra = delta.model_extra or {}
                    thought = extra.get("reasoning_content") or extra.get("reasoning") or ""
                    text = ""
                    if thought:
                        text = ("" if thinking else "<think>") + thought
                        thinking = True
                    if delta.content:
                        text += ("</think>" if thinking else "") + delta.content
                        thinking = False
                    if text:
                        pieces += 1
                        yield text
                if thinking:
                    yield "</think>"
        finally:
            if response is not None:
                response.close()  # a consumer that left closes the connection: the server stops
            stream.finish(prompt_tokens=usage.prompt_tokens if usage else 0,
                          new_tokens=usage.completion_tokens if usage else pieces,
                          engine=f"openai-compatible {self.base_url}")


class _server_errors:
    """Turn the openai client's failures into one-line ModelUnavailable errors naming the server."""

    def __init__(self, base_url: str, model: str) -> None:
        self.base_url, self.model = base_url, model

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        if exc is None:
            return False
        where = f"the generation server at {self.base_url}"
        if isinstance(exc, openai.APITimeoutError):
            raise ModelUnavailable(f"{where} did not answer in time") from exc
        if isinstance(exc, openai.APIConnectionError):
            raise ModelUnavailable(f"{where} is not reachable ({exc.__cause__ or exc}); is it running?") from exc
        if isinstance(exc, openai.NotFoundError):
            raise ModelUnavailable(f"{where} has no model {self.model!r}") from exc
        if isinstance(exc, openai.AuthenticationError):
            raise ModelUnavailable(f"{where} refused the key (generation.api_key)") from exc
        if isinstance(exc, openai.APIStatusError):
            raise ModelUnavailable(f"{where} answered {exc.status_code}: {exc.message}") from exc
        return False
