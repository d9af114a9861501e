"""foldrag's own decode loop for Llama-family models (Llama, Qwen2: SmolLM2, Llama 3, DeepSeek-R1-Distill).

``model.generate`` spends much of each step on per-token machinery (cache objects, mask building,
logits processors, stopping criteria, a streamer thread). On a small model on a CPU that overhead is
as large as the arithmetic. This loop calls the model's own modules (so quantized or bf16 weights,
biases and RoPE scaling come with them) with a preallocated KV cache, computes logits for the last
position only, and yields token ids one at a time in the caller's thread — closing the iterator stops
it. Greedy output is token-for-token that of ``model.generate`` (tests/test_decoding.py).

Example::

    if unsupported_reason(model) is None:
        loop = DecodeLoop(model)
    for token in loop.tokens(input_ids, max_new_tokens=64, stop_ids={eos}):
        ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

SUPPORTED = frozenset({"LlamaForCausalLM", "Qwen2ForCausalLM"})


def unsupported_reason(model) -> str | None:
    """Why foldrag's loop cannot run ``model`` (then ``model.generate`` does), or None."""
    name = type(model).__name__
    if name not in SUPPORTED:
        return f"{name} is not one of {sorted(SUPPORTED)}"
    devices = set(getattr(model, "hf_device_map", None) or {}.values())
    if len(devices) > 1:
        return "its layers are spread over several devices (offload runs through accelerate's hooks)"
    if getattr(model.config, "use_sliding_window", False):
        return "it uses sliding-window attention"
    return None


@dataclass(frozen=True)
class Sampling:
    """Greedy when temperature is 0."""

    temperature: float = 0.0
    top_p: float = 1.0

    def pick(self, logits, generator=None) -> int:
        import torch

        if self.temperature <= 0:
            return int(logits.argmax())
        probs = torch.softmax(logits.float() / self.temperature, dim=-1)
        if self.top_p < 1.0:
            sorted_probs, order = torch.sort(probs, descending=True)
            keep = torch.cumsum(sorted_probs, 0) - sorted_probs < self.top_p  # always keeps the best
            probs = torch.zeros_like(probs).scatter_(0, order[keep], sorted_probs[keep])
        return int(torch.multinomial(probs, 1, generator=generator))


class DecodeLoop:
    def __init__(self, model) -> None:
        inner = model.model
        self.model = model
        self.layers = list(inner.layers)
        self.embed = inner.embed_tokens
        self.norm = inner.norm
        self.rotary = inner.rotary_emb
        attention = self.layers[0].self_attn
        self.head_dim = attention.head_dim
        self.scaling = attention.scaling
        self.kv_heads = model.config.num_key_value_heads
        import torch.nn.functional as F
        from transformers.models.llama.modeling_llama import apply_rotary_pos_emb  # Qwen2's is the same

        self._attention = F.scaled_dot_product_attention
        self._rope = apply_rotary_pos_emb

    def _forward(self, ids, position: int, keys: list, values: list):
        """Run ``ids`` (1 × n) at ``position`` — the whole prompt at 0, the rest of a prompt after a
        reused prefix, then one token at a time — fill the caches, and return the last position's logits."""
        import torch

        n = ids.shape[1]
        end = position + n
        x = self.embed(ids)
        cos, sin = self.rotary(x, torch.arange(position, end, device=ids.device).unsqueeze(0))
        # several tokens after a prefix: each sees the prefix and the new tokens up to itself
        # (scaled_dot_product_attention's is_causal aligns the mask at the top left)
        mask = (torch.ones(n, end, dtype=torch.bool, device=ids.device).tril(diagonal=position)
                if position and n > 1 else None)
        for layer, k_cache, v_cache in zip(self.layers, keys, values):
            attn = layer.self_attn
            h = layer.input_layernorm(x)
            q = attn.q_proj(h).view(1, n, -1, self.head_dim).transpose(1, 2)
            k = attn.k_proj(h).view(1, n, -1, self.head_dim).transpose(1, 2)
            v = attn.v_proj(h).view(1, n, -1, self.head_dim).transpose(1, 2)
            q, k = self._rope(q, k, cos, sin)
            k_cache[:, :, position:end] = k
            v_cache[:, :, position:end] = v
            o = self._attention(q, k_cache[:, :, :end], v_cache[:, :, :end], attn_mask=mask,
                                is_causal=mask is None and n > 1, scale=self.scaling, enable_gqa=True)
            x = x + attn.o_proj(o.transpose(1, 2).reshape(1, n, -1))
            x = x + layer.mlp(layer.post_attention_layernorm(x))
        return self.model.lm_head(self.norm(x[:, -1:]))[0, -1]

    def new_cache(self, tokens: int):
        """Empty key and value caches (one per layer) for ``tokens`` positions."""
        import torch

        device, dtype = self.norm.weight.device, self.norm.weight.dtype
        shape = (1, self.kv_heads, tokens, self.head_dim)
        with torch.inference_mode():
            return ([torch.zeros(shape, dtype=dtype, device=device) for _ in self.layers],
                    [torch.zeros(shape, dtype=dtype, device=device) for _ in self.layers])

    def tokens(self, input_ids, max_new_tokens: int, stop_ids: frozenset[int] = frozenset(),
               sampling: Sampling = Sampling(), seed: int | None = None,
               prefill: Callable | None = None) -> Iterator[int]:
        """Yield new token ids; stops after a token in ``stop_ids`` (not yielded) or ``max_new_tokens``.

        ``prefill(ids, keys, values) -> logits``, when given, fills the caches for the whole prompt
        in place of computing it (a reused prefix: prefix_cache.py); decoding then goes on as usual.
        Each step runs under its own ``torch.inference_mode()``, so the iterator may be advanced from
        different threads (the HTTP server does that).
        """
        import torch

        device = self.norm.weight.device  # the embedding table may be packed; the norm never is
        ids = input_ids.to(device)
        keys, values = self.new_cache(ids.shape[1] + max_new_tokens)
        generator = None
        if seed is not None:
            generator = torch.Generator(device="cpu").manual_seed(seed)
        position = 0
        for _ in range(max_new_tokens):
            with torch.inference_mode():
                if prefill is not None and position == 0:
                    logits = prefill(ids, keys, values)
                else:
                    logits = self._forward(ids, position, keys, values)
                token = sampling.pick(logits.cpu() if sampling.temperature > 0 else logits, generator)
            position += ids.shape[1]
            if token in stop_ids:
                return
            yield token
            ids = torch.tensor([[token]], device=device)
