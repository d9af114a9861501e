"""How closely one model's next-token choices follow another's along the same text (weight formats)."""

from __future__ import annotations


def next_token_logits(model, sequence, prompt_length: int):
    """Logits for every position after the prompt, feeding one token per step through a KV cache —
    the way decoding runs, so single-row kernels are what is measured. ``sequence`` is 1 × n ids."""
    import torch
    from transformers import DynamicCache

    rows = []
    with torch.inference_mode():
        cache = DynamicCache(config=model.config)
        rows.append(model(sequence[:, :prompt_length], past_key_values=cache, use_cache=True).logits[0, -1])
        for i in range(prompt_length, sequence.shape[1] - 1):
            rows.append(model(sequence[:, i:i + 1], past_key_values=cache, use_cache=True).logits[0, -1])
    return torch.stack(rows).float()
