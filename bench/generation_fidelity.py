"""How closely foldrag's packed CPU weights follow the fp32 model: next-token agreement and KL.

Usage:  .venv/bin/python bench/generation_fidelity.py [--new-tokens 64] [--json]

For each prompt (English and Korean questions, with and without sources), the fp32 bundled model
writes a greedy continuation; then each weight format reads that same text one token at a time (the
way decoding runs: one row per step through the int4/int8 kernels) and we count the positions where
its most likely next token is the fp32 model's, and the mean KL divergence of its next-token
distribution from the fp32 one. Formats: int4 linear layers only, int8 LM head only, both (the
``cpu_quantize='auto'`` default), both with the prompt's matmuls in bf16 (what ``dtype='auto'``
picks where the CPU probe finds bf16 prompts faster), and for scale the whole model in bf16.
The prompt runs as one forward pass (the prefill path), then one token per step.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

PROMPTS = (
    "What is the capital of France?",
    "Explain what a FAISS index is in two sentences.",
    "Write a haiku about rain.",
    "List three fruits, one per line.",
    "What is retrieval-augmented generation?",
    "How do I keep my index safe when ingest crashes?",
    "Sources:\n[1] The Pelican Point lighthouse was built in 1891 and painted red.\n[2] The corner bakery sells "
    "sourdough bread every morning.\n\nQuestion: When was the lighthouse built? Answer and cite [n].",
    "서울은 어느 나라의 수도입니까?",
    "인공지능에 대해 한 문장으로 설명해 주세요.",
    "한국의 전통 음식 세 가지를 알려 주세요.",
    "출처:\n[1] 펠리컨 포인트 등대는 1891년에 세워졌고 빨간색으로 칠해졌다.\n\n질문: 등대는 언제 세워졌나요? [n]으로 인용하세요.",
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import torch
    import torch.nn.functional as F
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from foldrag.evaluation.fidelity import next_token_logits
    from foldrag.generation.decoding import DecodeLoop
    from foldrag.generation.bundled import default_model_cache
    from foldrag.generation.model_files import resolve_model_folder
    from foldrag.generation.packed_weights import pack_for_cpu

    folder = resolve_model_folder("bundled:SmolLM2-135M-Instruct", default_model_cache())
    tokenizer = AutoTokenizer.from_pretrained(str(folder))

    def load():
        return AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()

    reference = load()
    both = load()
    report = pack_for_cpu(both, "auto")
    linears_only = load()
    pack_for_cpu(linears_only, "auto")
    linears_only.set_output_embeddings(reference.get_output_embeddings())
    head_only = load()
    head_only.set_output_embeddings(both.get_output_embeddings())
    bf16_prompts = load()
    pack_for_cpu(bf16_prompts, "auto", prompt_dtype=torch.bfloat16)
    bf16 = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.bfloat16).eval()
    formats = {"int4 linear layers (exact re-pack)": linears_only, "int8 LM head (exact re-pack)": head_only,
               "both: cpu_quantize='auto'": both,
               "both, prompts through bf16 matmuls (auto on CPUs with fast bf16)": bf16_prompts,
               "for scale: the whole model in bf16": bf16}
    stop = frozenset({tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>")})
    totals = {name: {"positions": 0, "same_top1": 0, "kl_sum": 0.0} for name in formats}
    for prompt in PROMPTS:
        ids = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                            return_tensors="pt", return_dict=True)["input_ids"]
        continuation = list(DecodeLoop(reference).tokens(ids, args.new_tokens, stop_ids=stop))
        sequence = torch.cat([ids, torch.tensor([continuation], dtype=ids.dtype)], 1)
        expected = next_token_logits(reference, sequence, ids.shape[1])
        for name, model in formats.items():
            got = next_token_logits(model, sequence, ids.shape[1])
            kl = F.kl_div(got.log_softmax(-1), expected.log_softmax(-1), log_target=True, reduction="sum")
            totals[name]["positions"] += len(expected)
            totals[name]["same_top1"] += int((got.argmax(-1) == expected.argmax(-1)).sum())
            totals[name]["kl_sum"] += float(kl)
    results = {name: {"positions": t["positions"], "same_top1": t["same_top1"],
                      "top1_agreement": round(t["same_top1"] / t["positions"], 4),
                      "mean_kl": round(t["kl_sum"] / t["positions"], 5)} for name, t in totals.items()}
    out = {"prompts": len(PROMPTS), "new_tokens": args.new_tokens, "weights": report.describe(), "results": results}
    print(json.dumps(out, indent=2 if args.json else 1, ensure_ascii=False))


if __name__ == "__main__":
    main()
