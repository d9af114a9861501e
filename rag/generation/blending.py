"""A prompt's prefill over cached chunks, in foldrag's decode loop (CacheBlend, EuroSys 2025).

Each chunk's keys and values were computed alone, after a short lead (the system prompt), and
stored with their keys *before* the rotary embedding; here they are rotated to where the chunk lands
and written into the prompt's cache. A chunk computed alone never saw the chunks before it, so its
cache deviates from what the full prompt would give — little at most tokens, much at a few. As in
CacheBlend, layer 0 runs for every token (its keys and values depend on the token alone, its output
does not), the layer-1 values of every token are compared with the cached ones, and only the
``recompute`` share of chunk tokens that deviate most (with every token that has no cache: the
question, the source headers) is carried through the remaining layers, attending to the whole
prompt; the other tokens keep their cached keys and values. The shared prefix (system prompt,
earlier turns) is exact and computed not at all.

Work done, as a share of a full prefill's (layers × tokens): ``(n - exact + (L - 1) × active) /
(L × n)``, with ``active`` the fresh plus recomputed tokens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Placed:
    """A chunk's stored cache placed in a prompt: tokens ``start .. start + n``; ``kv`` is a tensor
    ``(2, layers, kv_heads, n, head_dim)`` (keys before rotation, values) in the model's dtype."""

    start: int
    kv: Any

    @property
    def end(self) -> int:
        return self.start + int(self.kv.shape[3])


@dataclass(frozen=True)
class Reuse:
    """What a prompt's prefill may take instead of computing: its first ``exact`` tokens' caches
    (``exact_kv``: keys and values per layer, rotated, at least ``exact`` long) and chunk caches."""

    exact: int = 0
    exact_kv: tuple = ()
    placed: tuple[Placed, ...] = ()
    recompute: float = 0.15


@dataclass(frozen=True)
class PrefillReport:
    """What one prefill took from caches and what it computed."""

    prompt_tokens: int
    exact: int = 0  # from the shared-prefix cache
    placed: int = 0  # from chunk caches
    recomputed: int = 0  # chunk tokens recomputed by blending
    work: float = 1.0  # share of a full prefill's layer-token work that was done

    @property
    def cached(self) -> int:
        """Prompt tokens whose keys and values came from a cache (recomputed ones included)."""
        return self.exact + self.placed


def _rotate(loop, k, cos, sin):
    """``k`` (1, heads, n, head_dim) rotated by ``cos``/``sin`` (1, n, head_dim)."""
    return loop._rope(k, k, cos, sin)[1]


def blend_prefill(loop, ids, keys: list, values: list, reuse: Reuse) -> tuple[Any, PrefillReport]:
    """Fill ``keys``/``values`` for the prompt ``ids`` (1 × n) from ``reuse`` and a partial
    recompute; return the last position's logits and what was done. Call under inference mode."""
    import torch
    import torch.nn.functional as F

    n = int(ids.shape[1])
    device = ids.device
    layers = loop.layers
    exact = reuse.exact
    positions = torch.arange(n, device=device)
    x = loop.embed(ids[:, exact:])
    cos, sin = loop.rotary(x, positions.unsqueeze(0))
    if exact:
        for layer, (k_cache, v_cache) in enumerate(zip(keys, values)):
            k_cache[:, :, :exact] = reuse.exact_kv[0][layer][:, :, :exact]
            v_cache[:, :, :exact] = reuse.exact_kv[1][layer][:, :, :exact]
    approx = torch.zeros(n, dtype=torch.bool, device=device)
    for placed in reuse.placed:
        s, e = placed.start, placed.end
        for layer, (k_cache, v_cache) in enumerate(zip(keys, values)):
            k_cache[:, :, s:e] = _rotate(loop, placed.kv[0, layer].unsqueeze(0), cos[:, s:e], sin[:, s:e])
            v_cache[:, :, s:e] = placed.kv[1, layer]
        approx[s:e] = True
    placed_tokens = int(approx.sum())
    active = positions[exact:]
    recomputed = placed_tokens
    work_units = 0
    for index, layer in enumerate(layers):
        attn = layer.self_attn
        a = int(active.shape[0])
        work_units += a
        h = layer.input_layernorm(x)
        k = attn.k_proj(h).view(1, a, -1, loop.head_dim).transpose(1, 2)
        v = attn.v_proj(h).view(1, a, -1, loop.head_dim).transpose(1, 2)
        k = _rotate(loop, k, cos[:, active], sin[:, active])
        if index == 1 and placed_tokens:
            # CacheBlend's selection: the chunk tokens whose layer-1 values deviate most from their cache
            deviation = (v.float() - values[index][:, :, active].float()).pow(2).sum(dim=(0, 1, 3))
            chunk = approx[active]
            recomputed = min(placed_tokens, math.ceil(reuse.recompute * placed_tokens))
            deviation[~chunk] = math.inf  # tokens without a cache are always computed
            keep = torch.topk(deviation, recomputed + int((~chunk).sum())).indices.sort().values
            keys[index][:, :, active] = k  # every token's layer-1 cache, now from a context-aware layer 0
            values[index][:, :, active] = v
            active, x, h = active[keep], x[:, keep], h[:, keep]
            a = int(active.shape[0])
        else:
            keys[index][:, :, active] = k
            values[index][:, :, active] = v
        q = attn.q_proj(h).view(1, a, -1, loop.head_dim).transpose(1, 2)
        q = _rotate(loop, q, cos[:, active], sin[:, active])
        mask = positions.unsqueeze(0) <= active.unsqueeze(1)  # each token sees the prompt up to itself
        o = F.scaled_dot_product_attention(q, keys[index][:, :, :n], values[index][:, :, :n], attn_mask=mask,
                                           scale=loop.scaling, enable_gqa=True)
        x = x + attn.o_proj(o.transpose(1, 2).reshape(1, a, -1))
        x = x + layer.mlp(layer.post_attention_layernorm(x))
    logits = loop.model.lm_head(loop.norm(x[:, -1:]))[0, -1]
    report = PrefillReport(prompt_tokens=n, exact=exact, placed=placed_tokens,
                           recomputed=recomputed if placed_tokens else 0,
                           work=work_units / (len(layers) * n))
    return logits, report


def chunk_alone(loop, lead_kv: tuple[list, list], lead: int, tokens) -> Any:
    """The cache of ``tokens`` (1 × m) computed alone after a lead whose caches are ``lead_kv``
    (``lead`` tokens long): a tensor ``(2, layers, kv_heads, m, head_dim)``, keys before rotation.
    Call under inference mode."""
    import torch

    m = int(tokens.shape[1])
    keys, values = loop.new_cache(lead + m)
    for layer in range(len(loop.layers)):
        keys[layer][:, :, :lead] = lead_kv[0][layer][:, :, :lead]
        values[layer][:, :, :lead] = lead_kv[1][layer][:, :, :lead]
    capture: list = []
    loop._forward(tokens, lead, keys, values, capture)
    return torch.stack([torch.stack([k[0] for k, _ in capture]), torch.stack([v[0] for _, v in capture])])


def lead_cache(loop, lead_ids) -> tuple[list, list]:
    """The exact caches of a lead (1 × n): keys (rotated) and values per layer. Under inference mode."""
    n = int(lead_ids.shape[1])
    keys, values = loop.new_cache(n)
    loop._forward(lead_ids, 0, keys, values)
    return keys, values
