"""Which parts of a prompt come from a cache, for the transformers backend's own decode loop.

Two caches: the **shared prefix** — the longest run of tokens that a recent prompt and its reply
began with (the system prompt; a question asked again; a follow-up carrying its previous turn,
answering/carry.py), kept in memory for this process, exact — and the
**chunks** — each passage's keys and values computed alone after the lead (the system prompt),
stored on disk per model (kv_store.py) and blended into the prompt (blending.py).

A passage is found in the prompt by its text; its tokens are those of the prompt's own tokenization
that lie wholly inside the passage, so the prompt's ids are exactly those of a prefill without
reuse, and the passage's cache is keyed by those ids and the lead's: a changed chunk, template or
model is a different key. A passage whose cache is missing is computed in place, in full (the
first token waits no longer than without reuse), and its cache is computed alone and stored once
the answer is written (``store_missing``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from foldrag.generation.blending import Placed, PrefillReport, Reuse, blend_prefill, chunk_alone, lead_cache
from foldrag.generation.kv_store import KVStore

log = logging.getLogger("foldrag.generation")

MIN_CHUNK_TOKENS = 16  # a shorter passage is cheaper to compute than to place and check
PREFIXES = 4  # recent prompts (with their replies) kept in memory
PREFIX_BYTES = 512 << 20  # and at most this much of their caches; the oldest go first
LEADS = 4  # leads (system prompts: one per language of the instructions) kept in memory


@dataclass(frozen=True)
class Missing:
    """A passage computed in place this time, to be cached alone afterwards."""

    key: str
    tokens: tuple[int, ...]


@dataclass(frozen=True)
class Prefilled:
    """A prompt's prefill as run: what it took and computed, and the decode loop's caches it filled."""

    report: PrefillReport
    keys: list
    values: list


@dataclass(frozen=True)
class Plan:
    """One prompt's reuse: what its prefill takes (``reuse``), what it stores afterwards."""

    reuse: Reuse
    lead: tuple[int, ...]
    missing: tuple[Missing, ...]
    shared_upto: int  # tokens before the first passage: the prefix a later prompt may share


class ChunkReuse:
    """The prefix cache and the chunk store of one loaded model."""

    def __init__(self, loop, tokenizer, store: KVStore, recompute: float = 0.15, chunks: bool = True) -> None:
        self.loop = loop
        self.chunks = chunks  # False: the shared prefix only (no chunk is placed or stored)
        self.tokenizer = tokenizer
        self.store = store
        self.recompute = recompute
        self._lock = threading.Lock()
        self._prefixes: list[tuple[tuple[int, ...], tuple[list, list]]] = []
        self._leads: dict[tuple[int, ...], tuple[list, list]] = {}

    # -- planning
    def plan(self, text: str, ids: Sequence[int], lead_text: str, passages: Sequence[str]) -> Plan | None:
        """How to prefill the prompt ``text`` (tokenized as ``ids``): None when the text does not
        tokenize to ``ids`` (then nothing is reused)."""
        import torch

        encoded = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        if list(encoded["input_ids"]) != list(ids):
            return None
        offsets = encoded["offset_mapping"]
        lead = tuple(self.tokenizer(lead_text, add_special_tokens=False)["input_ids"])
        spans = _passage_spans(text, offsets, passages) if self.chunks and lead else []
        shared_upto = spans[0][0] if spans else len(ids)
        exact, exact_kv = self._longest_prefix(ids, limit=len(ids) - 1)
        placed: list[Placed] = []
        missing: list[Missing] = []
        dtype, device = self.loop.norm.weight.dtype, self.loop.norm.weight.device
        for start, end in spans:
            if start < exact:
                continue
            tokens = tuple(ids[start:end])
            key = self.store.key(lead, tokens)
            stored = self.store.get(key)
            if stored is None:
                missing.append(Missing(key, tokens))
                continue
            if stored.shape[3] != len(tokens) or stored.shape[1] != len(self.loop.layers):
                missing.append(Missing(key, tokens))
                continue
            placed.append(Placed(start, torch.from_numpy(stored.copy()).to(device=device, dtype=dtype)))
        return Plan(Reuse(exact=exact, exact_kv=exact_kv, placed=tuple(placed), recompute=self.recompute),
                    lead, tuple(missing), shared_upto)

    def _longest_prefix(self, ids: Sequence[int], limit: int) -> tuple[int, tuple]:
        best, kv = 0, ()
        with self._lock:
            for tokens, caches in self._prefixes:
                n = 0
                for a, b in zip(tokens, ids[:limit]):
                    if a != b:
                        break
                    n += 1
                if n > best:
                    best, kv = n, caches
        return best, kv

    # -- running
    def prefill(self, plan: Plan, runs: list[Prefilled]):
        """The decode loop's ``prefill`` for ``plan``: blends, and appends what it did and the caches
        it filled (which decoding goes on filling) to ``runs``."""

        def run(ids, keys, values):
            if plan.reuse.exact or plan.reuse.placed:
                logits, report = blend_prefill(self.loop, ids, keys, values, plan.reuse)
            else:  # nothing to take: the loop's own prefill
                logits, report = self.loop._forward(ids, 0, keys, values), PrefillReport(int(ids.shape[1]))
            runs.append(Prefilled(report, keys, values))
            return logits

        return run

    def remember(self, plan: Plan, run: Prefilled, tokens: Sequence[int]) -> None:
        """Keep the caches of ``tokens`` — the prompt and the reply tokens fed back so far — for the
        prompts after it: a question asked again, a follow-up that carries this turn (carry.py).
        Only what is exact is kept: with chunks placed, the prompt before the first of them."""
        if plan.reuse.placed:
            tokens = tokens[:plan.shared_upto]
        self._remember(tuple(tokens), run.keys, run.values)

    def _remember(self, tokens: tuple[int, ...], keys: list, values: list) -> None:
        if not tokens:
            return
        n = len(tokens)
        copied = ([k[:, :, :n].clone() for k in keys], [v[:, :, :n].clone() for v in values])
        size = _bytes(copied)
        if size > PREFIX_BYTES:
            return
        with self._lock:
            # a kept prompt that this one begins with is of no more use: this one covers it
            kept = [p for p in self._prefixes if p[0] != tokens[:len(p[0])]]
            while kept and (len(kept) >= PREFIXES or sum(_bytes(p[1]) for p in kept) + size > PREFIX_BYTES):
                kept.pop(0)
            self._prefixes = kept + [(tokens, copied)]

    def store_missing(self, plan: Plan) -> int:
        """Compute alone and store the passages ``plan`` computed in place; the tokens stored."""
        import torch

        if not plan.missing:
            return 0
        stored = 0
        with torch.inference_mode():
            lead_kv = self._lead(plan.lead)
            for item in plan.missing:
                tokens = torch.tensor([item.tokens], device=self.loop.norm.weight.device)
                kv = chunk_alone(self.loop, lead_kv, len(plan.lead), tokens)
                self.store.put(item.key, kv.to(torch.float16).cpu().numpy())
                stored += len(item.tokens)
        return stored

    def _lead(self, lead: tuple[int, ...]):
        import torch

        with self._lock:
            cached = self._leads.get(lead)
        if cached is None:
            cached = lead_cache(self.loop, torch.tensor([lead], device=self.loop.norm.weight.device))
            with self._lock:
                kept = list(self._leads.items())[-(LEADS - 1):]
                self._leads = dict(kept + [(lead, cached)])
        return cached


def _bytes(caches: tuple[list, list]) -> int:
    return sum(t.numel() * t.element_size() for part in caches for t in part)


def _passage_spans(text: str, offsets, passages: Sequence[str]) -> list[tuple[int, int]]:
    """Token ranges [start, end) of the prompt lying wholly inside each passage's text, in order."""
    spans: list[tuple[int, int]] = []
    cursor = 0
    token = 0
    for passage in passages:
        at = text.find(passage, cursor) if passage else -1
        if at < 0:
            continue
        end_char = at + len(passage)
        cursor = end_char
        while token < len(offsets) and offsets[token][0] < at:
            token += 1
        start = token
        while token < len(offsets) and offsets[token][1] <= end_char:
            token += 1
        if token - start >= MIN_CHUNK_TOKENS:
            spans.append((start, token))
    return spans
