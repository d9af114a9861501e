"""Deterministic fakes: a hash-seeded bag-of-words embedder and scripted generators."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import re
import threading

import numpy as np

from foldrag.core.contracts import TextStream

_WORD = re.compile(r"\w+", re.UNICODE)


class HashEmbedder:
    """Each word maps to a fixed pseudo-random vector; a text is the normalised sum of its words.

    Texts sharing words get similar vectors, so retrieval tests can reason about results.
    """

    def __init__(self, dimension: int = 32, name: str = "fake:hash", backend: str = "hash") -> None:
        self.name = name
        self.dimension = dimension
        self.backend = backend
        self.recipe = None  # built in this process only: Ray workers cannot load it
        self.calls: list[int] = []  # how many texts each embed() call received

    def _word(self, word: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(word.lower().encode()).digest()[:8], "little")
        return np.random.default_rng(seed).standard_normal(self.dimension).astype(np.float32)

    def embed(self, texts: list[str], *, query: bool = False, urgent: bool | None = None) -> np.ndarray:
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

    def bulk_turn(self):
        """No queries compete with this fake's bulk work."""
        return contextlib.nullcontext()

    @property
    def embedded(self) -> int:
        return sum(self.calls)


def _words(messages) -> int:
    return sum(len(m["content"].split()) + 4 for m in messages)


class ScriptedChat:
    """A scripted generator for the answer pipeline: replies in order, streamed in small pieces.

    ``prompt_tokens`` and ``count_tokens`` count words, so packing tests can reason about budgets.
    """

    name = "scripted-chat"
    context_window = 4096

    def __init__(self, *replies: str, preset=None, piece: int = 3) -> None:
        from foldrag.generation.presets import PRESETS

        self.replies = list(replies)
        self.preset = preset or PRESETS["chatml"]
        self.reasoning = self.preset.reasoning
        self.piece = piece
        self.calls: list[list[dict]] = []
        self.closed = 0
        self.yielded = 0

    def prompt_tokens(self, messages) -> int:
        return _words(messages)

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def cache_stats(self) -> dict[str, float]:
        return {}

    def stream(self, messages, **kwargs) -> TextStream:
        self.calls.append(messages)
        text = self.replies.pop(0)

        def produce(stream: TextStream):
            sent = 0
            try:
                for i in range(0, len(text), self.piece):
                    self.yielded += 1
                    sent += 1
                    yield text[i : i + self.piece]
            finally:
                self.closed += 1
                stream.finish(prompt_tokens=_words(messages), new_tokens=sent, engine="scripted")

        return TextStream(produce)


def _letters(n: int) -> str:
    out = ""
    while True:
        n, r = divmod(n, 26)
        out = chr(97 + r) + out
        if not n:
            return out


class LoopChat:
    """A generator for server tests: every call streams ``reply`` in small pieces, forever reusable.
    Records calls; ``started`` is set when a stream begins, ``cancelled`` when one is closed early.

    ``hold``: an event each stream waits on after its first piece, so a test decides when a
    generation may go on (no sleeps): set it and the stream runs to its end. ``gate``: the same,
    before the first piece (nothing of the answer is written until it is set). ``endless``: the reply
    goes on (numbered, so it never reads as a loop) until the stream is closed: only a cancellation
    ends it.
    """

    name = "loop-chat"
    context_window = 4096

    def __init__(self, reply: str = "Paris is the capital of France [1].", *, piece: int = 4, preset=None,
                 hold: threading.Event | None = None, gate: threading.Event | None = None,
                 endless: bool = False) -> None:
        from foldrag.generation.presets import PRESETS

        self.reply = reply
        self.piece = piece
        self.preset = preset or PRESETS["chatml"]
        self.reasoning = self.preset.reasoning
        self.hold = hold
        self.gate = gate
        self.endless = endless
        self.calls: list[list[dict]] = []
        self.cancelled = threading.Event()
        self.started = threading.Event()
        self.running = 0
        self.finished = 0
        self.cache: dict[str, float] = {}  # what cache_stats() reports
        self.cached_tokens = 0  # prompt tokens each call reports as taken from a cache

    def prompt_tokens(self, messages) -> int:
        return _words(messages)

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def cache_stats(self) -> dict[str, float]:
        return dict(self.cache)

    def stream(self, messages, **kwargs) -> TextStream:
        self.calls.append(messages)

        def produce(stream: TextStream):
            self.running += 1
            self.started.set()
            done = False
            try:
                pieces = [self.reply[i : i + self.piece] for i in range(0, len(self.reply), self.piece)]
                if self.endless:  # each piece tagged with its count in letters: never a loop, digits aside
                    pieces = (f"{piece}{_letters(n)} " for n, piece in enumerate(itertools.cycle(pieces)))
                for n, piece in enumerate(pieces):
                    if n == 0 and self.gate is not None:
                        self.gate.wait(60)
                    if n == 1 and self.hold is not None:
                        self.hold.wait(60)
                    yield piece
                done = True
                self.finished += 1
            finally:
                self.running -= 1
                if not done:
                    self.cancelled.set()
                stream.finish(prompt_tokens=100, new_tokens=9, engine="loop-chat", cached_tokens=self.cached_tokens,
                              prefill_work=1.0 - self.cached_tokens / 100)

        return TextStream(produce)
