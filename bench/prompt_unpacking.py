"""What unpacking the int4 weights costs a prompt, before and after the reused buffers (issue 29).

A prompt (more rows than the int4 kernel takes) runs through each packed layer's dequantized
weights. Until 2026-12-06 every layer unpacked into fresh tensors — (out, in) codes, then fp32,
then the prompt dtype — and multiplied with ``F.linear``; now it unpacks transposed, a few input
rows at a time (the fp32 values stay in the core's cache), into buffers the thread reuses, and
multiplies ``rows @ w_t`` (``Int4Linear.dequantized_t``). This times the same
prompts' full prefill both ways, alternated in one process, and with the weights kept unpacked
(``generation.transformers.prompt_weights = "keep"``), and compares their last-token logits.

Usage:  .venv/bin/python bench/prompt_unpacking.py [--rounds 3]
Needs `bash scripts/run.sh demo` to have installed the 1.5B (foldrag[qwen]).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_throughput import cpu_name  # noqa: E402  (sibling scripts)
from demo_prompts import MODEL, QUESTIONS, demo_generator, prompt_ids  # noqa: E402


def before_forward(original):
    """Int4Linear.forward as it was: fresh (out, in) codes → fp32 → prompt dtype, then F.linear."""
    import torch.nn.functional as F

    from foldrag.generation.packed_weights import GROUP, KERNEL_MAX_ROWS, unpack_kernel_codes

    def forward(self, x):
        rows = x.reshape(-1, self.in_features)
        if rows.shape[0] <= KERNEL_MAX_ROWS or self.layout is None:
            return original(self, x)
        codes = unpack_kernel_codes(self.packed, self.out_features, self.in_features, self.layout)
        scale, offset = (t.reshape(-1, self.out_features).t().unsqueeze(-1).float() for t in (self.scale, self.offset))
        weight = codes.reshape(self.out_features, -1, GROUP).float().mul_(scale).add_(offset)
        weight = weight.reshape(self.out_features, self.in_features).to(self.prompt_dtype)
        bias = None if self.bias is None else self.bias.to(self.prompt_dtype)
        out = F.linear(rows.to(self.prompt_dtype), weight, bias).to(x.dtype)
        return out.reshape(*x.shape[:-1], self.out_features)

    return forward


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "foldrag-bench-kv")
    args = parser.parse_args()

    import torch

    from foldrag.generation.packed_weights import Int4Linear, keep_prompt_weights

    rag, gen = demo_generator(args.work)
    prompts = [prompt_ids(rag, gen, q) for q in QUESTIONS]
    now_forward = Int4Linear.forward
    old_forward = before_forward(now_forward)

    def prefill(ids):
        with torch.inference_mode():
            keys, values = gen.loop.new_cache(int(ids.shape[1]))
            t0 = time.perf_counter()
            logits = gen.loop._forward(ids, 0, keys, values)
            return time.perf_counter() - t0, logits.reshape(-1, logits.shape[-1])[-1].float()

    times: dict[str, list[list[float]]] = {"before": [], "now": [], "keep": []}
    logits: dict[str, list] = {}
    for _ in range(args.rounds):
        for mode, forward in (("before", old_forward), ("now", now_forward)):
            Int4Linear.forward = forward
            runs = [prefill(ids) for ids in prompts]
            times[mode].append([round(s, 3) for s, _ in runs])
            logits[mode] = [row for _, row in runs]
    Int4Linear.forward = now_forward
    rss_before_keep = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10
    added = keep_prompt_weights(gen.model)
    for _ in range(args.rounds):
        runs = [prefill(ids) for ids in prompts]
        times["keep"].append([round(s, 3) for s, _ in runs])
        logits["keep"] = [row for _, row in runs]

    def mean(mode):
        return round(sum(map(sum, times[mode])) / (len(times[mode]) * len(prompts)), 3)

    result = {
        "cpu": cpu_name(), "model": MODEL, "prompt_tokens": [int(ids.shape[1]) for ids in prompts],
        "prompt_dtype": str(next(m for m in gen.model.modules() if isinstance(m, Int4Linear)).prompt_dtype),
        "seconds": times, "mean_s": {mode: mean(mode) for mode in times},
        "now_vs_before": round(mean("now") / mean("before"), 3),
        "top_token_same_now_before": [int(a.argmax()) == int(b.argmax()) for a, b in zip(logits["now"], logits["before"])],
        "max_logit_diff_now_before": max(float((a - b).abs().max()) for a, b in zip(logits["now"], logits["before"])),
        "keep_equals_now": all(torch.equal(a, b) for a, b in zip(logits["keep"], logits["now"])),
        "peak_rss_mib_before_keep": rss_before_keep, "keep_added_mib": added >> 20,
        "peak_rss_mib_with_keep": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10,
    }
    print(json.dumps(result, indent=1))
    (args.work / "prompt_unpacking.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
