"""Time to first token and decode rate: foldrag's generator against a plain fp32 ``model.generate``.

Usage:  .venv/bin/python bench/generation_speed.py [--new-tokens 64] [--json]

Same bundled model (SmolLM2-135M-Instruct), same ~700-token RAG prompt (built by foldrag's prompt
builder from examples/docs), greedy decoding, all in one process:
  plain        AutoModelForCausalLM fp32, torch's default threads, model.generate
  step:*       one change at a time on top of plain (threads, static KV cache, foldrag's decode loop,
               bf16, int4 linear layers re-packed from the GGUF's 4-bit grid, an int8 LM head)
  foldrag      TransformersGenerator.stream with the settings foldrag uses by default
Each figure is the best of --repeats runs. Decode rate = (new tokens - 1) / (total - first token).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


QUESTION = "How does foldrag keep the index safe when ingest crashes?"


def rag_prompt(target_tokens: int, count, question: str = QUESTION) -> list[dict[str, str]]:
    """foldrag's RAG prompt for ``question``, with examples/docs as sources until ``count`` (prompt
    tokens) reaches ``target_tokens``; the sources do not depend on the question."""
    from foldrag.core.types import Chunk, Hit
    from foldrag.generation.prompting import build_messages

    folder = Path(__file__).resolve().parent.parent / "examples" / "docs"
    texts = [p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.md")) + [folder / "faq.txt"]]
    hits: list[Hit] = []
    while count(build_messages(QUESTION, hits)) < target_tokens:
        i = len(hits)
        hits.append(Hit(Chunk(id=f"c{i}", source=f"doc{i}.md", text=texts[i % len(texts)]), 1.0))
    return build_messages(question, hits)


def time_generate(model, ids, new_tokens: int, repeats: int, **kwargs) -> tuple[float, float]:
    import torch

    best_ttft, best_rate = float("inf"), 0.0
    print(f"timing {kwargs or 'plain'} threads={torch.get_num_threads()}", file=sys.stderr, flush=True)
    for _ in range(repeats):
        with torch.inference_mode():
            t0 = time.perf_counter()
            model.generate(ids, max_new_tokens=1, do_sample=False, **kwargs)
            ttft = time.perf_counter() - t0
            t0 = time.perf_counter()
            model.generate(ids, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, **kwargs)
            total = time.perf_counter() - t0
        best_ttft = min(best_ttft, ttft)
        best_rate = max(best_rate, (new_tokens - 1) / max(total - ttft, 1e-9))
    return best_ttft, best_rate


def time_loop(model, ids, new_tokens: int, repeats: int, reference: list[int]) -> dict:
    """foldrag's decode loop alone (greedy), and how many tokens agree with plain fp32 generate."""
    from foldrag.generation.decoding import DecodeLoop

    loop = DecodeLoop(model)
    print(f"timing foldrag loop {model.dtype}", file=sys.stderr, flush=True)
    best_ttft, best_rate, tokens = float("inf"), 0.0, []
    for _ in range(repeats):
        t0 = time.perf_counter()
        stream = loop.tokens(ids, new_tokens)
        tokens = [next(stream)]
        ttft = time.perf_counter() - t0
        tokens += list(stream)
        total = time.perf_counter() - t0
        best_ttft = min(best_ttft, ttft)
        best_rate = max(best_rate, (len(tokens) - 1) / max(total - ttft, 1e-9))
    agree = next((i for i, (a, b) in enumerate(zip(tokens, reference)) if a != b), len(tokens))
    return {"ttft_s": best_ttft, "decode_tok_s": best_rate, "same_as_plain_first_tokens": agree}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--prompt-tokens", type=int, default=700)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from foldrag.generation.bundled import default_model_cache
    from foldrag.generation.model_files import resolve_model_folder
    from foldrag.generation.transformers_backend import TransformersGenerator
    from foldrag.core.hardware import cpu_has_fast_bf16
    from foldrag.core.settings import GenerationSettings

    folder = resolve_model_folder("bundled:SmolLM2-135M-Instruct", default_model_cache())
    tokenizer = AutoTokenizer.from_pretrained(str(folder))

    def count(messages):
        return len(tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True)["input_ids"])

    messages = rag_prompt(args.prompt_tokens, count)
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)["input_ids"]
    default_threads = torch.get_num_threads()
    results: dict[str, dict] = {}

    plain = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
    pad = {"pad_token_id": tokenizer.eos_token_id}
    with torch.inference_mode():  # warm-up, so that the first measured row pays no one-time costs
        plain.generate(ids, max_new_tokens=4, do_sample=False, **pad)
    results["plain fp32"] = dict(zip(("ttft_s", "decode_tok_s"), time_generate(plain, ids, args.new_tokens, args.repeats, **pad)))
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        results[f"step: threads={threads}"] = dict(zip(("ttft_s", "decode_tok_s"), time_generate(plain, ids, args.new_tokens, args.repeats, **pad)))
    torch.set_num_threads(default_threads)
    results["step: static KV cache"] = dict(zip(("ttft_s", "decode_tok_s"), time_generate(
        plain, ids, args.new_tokens, args.repeats, cache_implementation="static", **pad)))
    with torch.inference_mode():
        reference = plain.generate(ids, max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens,
                                   do_sample=False, **pad)[0, ids.shape[1]:].tolist()
    results["step: foldrag decode loop"] = time_loop(plain, ids, args.new_tokens, args.repeats, reference)
    bf16 = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.bfloat16).eval()
    label = "" if cpu_has_fast_bf16() else " (emulated on this CPU)"
    results[f"step: bf16 generate{label}"] = dict(zip(("ttft_s", "decode_tok_s"), time_generate(bf16, ids, args.new_tokens, args.repeats, **pad)))
    results[f"step: foldrag decode loop + bf16{label}"] = time_loop(bf16, ids, args.new_tokens, args.repeats, reference)
    del bf16

    from foldrag.generation.packed_weights import pack_for_cpu

    packed = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
    fp32_head = packed.get_output_embeddings()
    report = pack_for_cpu(packed, "auto")
    print(f"packed: {report.describe()}", file=sys.stderr, flush=True)
    int8_head = packed.get_output_embeddings()
    packed.set_output_embeddings(fp32_head)
    results["step: foldrag decode loop + int4 linear layers"] = time_loop(packed, ids, args.new_tokens, args.repeats, reference)
    packed.set_output_embeddings(int8_head)
    results["step: foldrag decode loop + int4 linear layers + int8 LM head"] = time_loop(
        packed, ids, args.new_tokens, args.repeats, reference)
    results["step: int4 + int8 weights, model.generate"] = dict(zip(("ttft_s", "decode_tok_s"), time_generate(
        packed, ids, args.new_tokens, args.repeats, **pad)))
    del packed

    settings = GenerationSettings(model="bundled:SmolLM2-135M-Instruct", device="cpu")
    generator = TransformersGenerator.load(settings)
    best_ttft, best_rate = float("inf"), 0.0
    for _ in range(args.repeats):
        stream = generator.stream(messages, max_tokens=args.new_tokens, temperature=0.0)
        stream.text()
        best_ttft = min(best_ttft, stream.stats.first_token_s)
        best_rate = max(best_rate, stream.stats.tokens_per_s)
    results["foldrag generator (defaults)"] = {"ttft_s": best_ttft, "decode_tok_s": best_rate,
                                               "threads": torch.get_num_threads(),
                                               "new_tokens": stream.stats.new_tokens}
    base = results["plain fp32"]["decode_tok_s"]
    report = {
        "prompt_tokens": int(ids.shape[1]),
        "new_tokens": args.new_tokens,
        "torch_default_threads": default_threads,
        "fast_bf16_cpu": cpu_has_fast_bf16(),
        "foldrag_weights": generator.weights.describe(),
        "results": {k: {**{kk: round(vv, 3) if isinstance(vv, float) else vv for kk, vv in v.items()},
                        "decode_vs_plain": round(v["decode_tok_s"] / base, 2)} for k, v in results.items()},
    }
    print(json.dumps(report, indent=2) if args.json else json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
