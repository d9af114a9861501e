"""The shared-prefix cache of foldrag's decode loop: a prompt that begins as a recent one did takes
that beginning's attention caches instead of computing them.

Every answer's prompt opens with the same system prompt, and a question asked again repeats a whole
prompt, so the longest run of tokens a recent prompt (with its reply) began with is kept in memory,
exactly: the answers are those of a full prefill (tests/test_prefix_cache.py). Entries are whole
prompts with their replies; a newer entry that begins with an older one replaces it; the oldest go
first past ``entries`` or ``max_bytes``.

Example::

    cache = PrefixCache(loop)
    runs = []
    for token in loop.tokens(ids, 64, prefill=cache.prefill(ids[0].tolist(), runs)):
        ...
    cache.remember(prompt_and_reply_ids, runs[0])
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

ENTRIES = 4  # recent prompts (with their replies) kept
MAX_BYTES = 512 << 20  # and at most this much of their caches


@dataclass(frozen=True)
class Prefilled:
    """One prompt's prefill as run: its length, the tokens taken from the cache, and the decode
    loop's caches it filled (which decoding goes on filling)."""

    prompt_tokens: int
    cached_tokens: int
    keys: list
    values: list


@dataclass(frozen=True)
class CacheStats:
    entries: int
    bytes: int
    limit_bytes: int
    hits: int  # prompts that took a prefix
    misses: int  # prompts computed in full


class PrefixCache:
    """Recent prompts' attention caches for one loaded model's decode loop."""

    def __init__(self, loop, entries: int = ENTRIES, max_bytes: int = MAX_BYTES) -> None:
        self.loop = loop
        self.entries = entries
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._kept: list[tuple[tuple[int, ...], tuple[list, list]]] = []
        self._hits = 0
        self._misses = 0

    def prefill(self, ids: Sequence[int], runs: list[Prefilled]) -> Callable:
        """The decode loop's ``prefill`` for the prompt ``ids``: the longest kept prefix is copied
        (all but the last token, whose logits start the reply), the rest computed after it; what
        was done is appended to ``runs``."""
        exact, caches = self._longest(ids, limit=len(ids) - 1)
        with self._lock:
            if exact:
                self._hits += 1
            else:
                self._misses += 1

        def run(prompt, keys, values):
            if exact:
                for k_cache, v_cache, k_kept, v_kept in zip(keys, values, *caches):
                    k_cache[:, :, :exact] = k_kept[:, :, :exact]
                    v_cache[:, :, :exact] = v_kept[:, :, :exact]
            logits = self.loop._forward(prompt[:, exact:], exact, keys, values)
            runs.append(Prefilled(int(prompt.shape[1]), exact, keys, values))
            return logits

        return run

    def remember(self, tokens: Sequence[int], run: Prefilled) -> None:
        """Keep the caches of ``tokens`` — the prompt and the reply tokens fed back so far."""
        tokens = tuple(tokens)
        if not tokens:
            return
        n = len(tokens)
        copied = ([k[:, :, :n].clone() for k in run.keys], [v[:, :, :n].clone() for v in run.values])
        size = _bytes(copied)
        if size > self.max_bytes:
            return
        with self._lock:
            kept = [p for p in self._kept if p[0] != tokens[:len(p[0])]]  # covered by this one
            while kept and (len(kept) >= self.entries or sum(_bytes(p[1]) for p in kept) + size > self.max_bytes):
                kept.pop(0)
            self._kept = kept + [(tokens, copied)]

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(entries=len(self._kept), bytes=sum(_bytes(p[1]) for p in self._kept),
                              limit_bytes=self.max_bytes, hits=self._hits, misses=self._misses)

    def _longest(self, ids: Sequence[int], limit: int) -> tuple[int, tuple]:
        best, caches = 0, ()
        with self._lock:
            for tokens, kept in self._kept:
                n = 0
                for a, b in zip(tokens, ids[:limit]):
                    if a != b:
                        break
                    n += 1
                if n > best:
                    best, caches = n, kept
        return best, caches


def _bytes(caches: tuple[list, list]) -> int:
    return sum(t.numel() * t.element_size() for part in caches for t in part)
