"""Deterministic fakes: a hash-seeded bag-of-words embedder."""

from __future__ import annotations

import hashlib
import re

import numpy as np

_WORD = re.compile(r"\w+", re.UNICODE)


class HashEmbedder:
    """Each word maps to a fixed pseudo-random vector; a text is the normalised sum of its words.

    Texts sharing words get similar vectors, so retrieval tests can reason about results.
    """

    def __init__(self, dimension: int = 32, name: str = "fake:hash") -> None:
        self.name = name
        self.dimension = dimension
        self.calls: list[int] = []  # how many texts each embed() call received

    def _word(self, word: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(word.lower().encode()).digest()[:8], "little")
        return np.random.default_rng(seed).standard_normal(self.dimension).astype(np.float32)

    def embed(self, texts: list[str], *, query: bool = False) -> np.ndarray:
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in _WORD.findall(text):
                out[i] += self._word(word)
            norm = np.linalg.norm(out[i])
            out[i] = out[i] / norm if norm else self._word("\x00empty")
            out[i] /= np.linalg.norm(out[i])
        return out

    def token_length(self, text: str) -> int:
        return len(text.split())

    @property
    def embedded(self) -> int:
        return sum(self.calls)


class ScriptedChat:
    """A scripted generator for the answer pipeline: replies in order, streamed in small pieces.

    ``prompt_tokens`` counts words, so packing tests can reason about budgets.
    """

    name = "scripted-chat"
    context_window = 4096

    def __init__(self, *replies: str, preset=None, piece: int = 3) -> None:
        from rag.generation.presets import PRESETS

        self.replies = list(replies)
        self.preset = preset or PRESETS["chatml"]
        self.piece = piece
        self.calls: list[list[dict]] = []
        self.closed = 0
        self.yielded = 0
        self.last_stats = {"tokens_per_s": 42.0}

    def prompt_tokens(self, messages) -> int:
        return sum(len(m["content"].split()) + 4 for m in messages)

    def generate(self, messages, **kwargs) -> str:
        self.calls.append(messages)
        return self.replies.pop(0)

    def stream(self, messages, **kwargs):
        self.calls.append(messages)
        text = self.replies.pop(0)
        try:
            for i in range(0, len(text), self.piece):
                self.yielded += 1
                yield text[i : i + self.piece]
        finally:
            self.closed += 1


class LoopChat:
    """A generator for server tests: every call streams ``reply`` in small pieces, ``delay`` seconds
    apart, forever reusable. Records calls, and ``cancelled`` is set when a stream is closed early."""

    name = "loop-chat"
    context_window = 4096

    def __init__(self, reply: str = "Paris is the capital of France [1].", *, delay: float = 0.0,
                 piece: int = 4, preset=None) -> None:
        import threading

        from rag.generation.presets import PRESETS

        self.reply = reply
        self.delay = delay
        self.piece = piece
        self.preset = preset or PRESETS["chatml"]
        self.calls: list[list[dict]] = []
        self.cancelled = threading.Event()
        self.started = threading.Event()
        self.finished = 0
        self.last_stats = {"tokens_per_s": 50.0, "prompt_tokens": 100, "new_tokens": 9}

    def prompt_tokens(self, messages) -> int:
        return sum(len(m["content"].split()) + 4 for m in messages)

    def generate(self, messages, **kwargs) -> str:
        self.calls.append(messages)
        return self.reply

    def stream(self, messages, **kwargs):
        import time

        self.calls.append(messages)
        self.started.set()
        done = False
        try:
            for i in range(0, len(self.reply), self.piece):
                if self.delay:
                    time.sleep(self.delay)
                yield self.reply[i : i + self.piece]
            done = True
            self.finished += 1
        finally:
            if not done:
                self.cancelled.set()
