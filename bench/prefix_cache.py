"""The shared-prefix cache benchmark (issues 29 and 40): time to first token with every prompt computed
in full (generation.kv_reuse = "off") against the beginning of a recent prompt reused ("auto", the
default: rag/generation/prefix_cache.py), and whether the answers stay the same.

Parts (each setting run in its own process, settings in FOLDRAG_* variables):
  demo          the demo's questions over examples/docs, two rounds per setting; round 1 is compared
                (for "auto", the prefixes round 0 left)
  conversation  5-turn conversations over the demo and over a SciFact sample, first token per turn
                (--settings: the kv_reuse values compared, default off,auto)
  korquad       `foldrag eval --answers` on KorQuAD 1.0 dev (--limit questions), off against auto:
                contains-gold, F1, citation precision, identical greedy answers, first token

Usage:  .venv/bin/python bench/prefix_cache.py demo conversation korquad [--limit 100] [--prompt-weights keep]
Needs the default answering model (`bash scripts/run.sh demo` installs it) and, for korquad and
the SciFact conversation, ../shared/data.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
KORQUAD = DATA / "korquad-v1-dev" / "KorQuAD_v1.0_dev.json"
SCIFACT = DATA / "beir-scifact"
MODEL = "bundled:Qwen2.5-Coder-1.5B-Instruct"
DEMO_QUESTIONS = ["How does GPU offload place layers?", "형태소 분석기는 무엇을 하나요?",
                  "What is Reciprocal Rank Fusion?", "병가는 며칠인가요?"]
DEMO_TURNS = ["How does GPU offload place layers?", "What happens to the layers that do not fit?",
              "Which backends can run the model?", "형태소 분석기는 무엇을 하나요?", "What is Reciprocal Rank Fusion?"]
SCIFACT_TURNS = ["What does ADAR1 do in cancer cells?", "How is it measured?", "What does PGE2 do in inflammation?",
                 "Which cells produce it?", "What is the role of microRNA in these effects?"]

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_throughput import cpu_name  # noqa: E402  (a sibling script)


PROMPT_WEIGHTS = {"value": "dequantize"}  # --prompt-weights: generation.transformers.prompt_weights of every run
BACKEND = {"value": "transformers"}  # --backend: generation.backend of every run


def env_for(reuse: str) -> dict[str, str]:
    return dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", FOLDRAG_GENERATION__MODEL=MODEL,
                FOLDRAG_GENERATION__KV_REUSE=reuse,
                FOLDRAG_GENERATION__TRANSFORMERS__PROMPT_WEIGHTS=PROMPT_WEIGHTS["value"],
                FOLDRAG_GENERATION__BACKEND=BACKEND["value"])


ASK = r"""
import json, sys, foldrag
rag = foldrag.open(sys.argv[1], answers=True)
rag.load_generator()
rounds, questions, conversation = int(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4] == "1"
out = []
for r in range(rounds):
    history = []
    for q in questions:
        a = rag.ask(q, history=history if conversation else ())
        out.append({"round": r, "question": q, "answer": a.answer, "timings": a.timings,
                    "prompt_tokens": a.prompt_tokens, "cited": [c.chunk_id for c in a.citations]})
        history += [{"role": "user", "content": q}, {"role": "assistant", "content": a.answer}]
print(json.dumps(out, ensure_ascii=False))
"""


def ask_rounds(index: Path, questions: list[str], reuse: str, rounds: int, conversation: bool) -> list[dict]:
    done = subprocess.run([sys.executable, "-c", ASK, str(index), str(rounds), json.dumps(questions),
                           "1" if conversation else "0"], env=env_for(reuse), capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def built(index: Path) -> bool:
    """Whether ``index`` holds a committed index (a killed ingest leaves a folder without one)."""
    from foldrag.indexes.folder import newest_manifest

    return index.exists() and newest_manifest(index) is not None


def demo_index(work: Path) -> Path:
    index = work / "demo-index"
    if not built(index):
        subprocess.run([str(ROOT / ".venv" / "bin" / "foldrag"), "ingest", str(ROOT / "examples" / "docs"),
                        "--index", str(index), "-q"], check=True, env=env_for("off"))
    return index


def write_scifact(folder: Path, docs: int) -> Path:
    """The first ``docs`` SciFact abstracts as text files (title, then abstract) in ``folder``."""
    if folder.exists():
        return folder
    folder.mkdir(parents=True)
    with open(SCIFACT / "corpus.jsonl") as handle:
        for i, line in enumerate(handle):
            if i >= docs:
                break
            doc = json.loads(line)
            (folder / f"{doc['_id']}.txt").write_text(f"{doc['title']}\n\n{doc['text']}\n")
    return folder


def scifact_index(work: Path, docs: int = 300) -> Path:
    index = work / "scifact-index"
    if built(index):
        return index
    folder = write_scifact(work / "scifact-docs", docs)
    subprocess.run([str(ROOT / ".venv" / "bin" / "foldrag"), "ingest", str(folder), "--index", str(index), "-q"],
                   check=True, env=env_for("off"))
    return index


def first_tokens(rows: list[dict], round_: int) -> list[float]:
    return [r["timings"]["first_token_s"] for r in rows if r["round"] == round_]


def part_demo(work: Path) -> dict:
    """Two rounds of the demo questions per setting, each in a fresh process; round 1 is the one
    compared (for 'auto', warm: the prefixes cached by round 0)."""
    index = demo_index(work)
    runs = {"off": ask_rounds(index, DEMO_QUESTIONS, "off", 2, False),
            "auto": ask_rounds(index, DEMO_QUESTIONS, "auto", 2, False)}
    full = first_tokens(runs["off"], 1)
    answers_full = [r["answer"] for r in runs["off"] if r["round"] == 1]
    times = first_tokens(runs["auto"], 1)
    picked = [r for r in runs["auto"] if r["round"] == 1]
    same = sum(a == r["answer"] for a, r in zip(answers_full, picked))
    return {"full_mean_s": statistics.mean(full),
            "auto": {"first_token_mean_s": statistics.mean(times),
                     "ratio": statistics.mean(times) / statistics.mean(full),
                     "per_question_ratio": [round(t / f, 3) for t, f in zip(times, full)],
                     "identical_answers": f"{same} of {len(picked)}",
                     "reused_share": sum(r["timings"].get("prompt_reused_tokens", 0) for r in picked)
                     / sum(r["prompt_tokens"] for r in picked),
                     "answers": [r["answer"] for r in picked]},
            "answers_full": answers_full}


def part_conversation(work: Path, settings: list[str]) -> dict:
    result = {}
    sets = [("demo", demo_index(work), DEMO_TURNS)]
    if SCIFACT.exists():
        sets.append(("scifact-300", scifact_index(work), SCIFACT_TURNS))
    for name, index, turns in sets:
        result[name] = {"prompt_tokens": []}
        for setting in settings:
            rows = ask_rounds(index, turns, setting, 1, True)
            result[name][f"first_token_s_{setting}"] = [round(x, 2) for x in first_tokens(rows, 0)]
            result[name][f"condense_s_{setting}"] = [round(r["timings"].get("condense_s", 0.0), 2) for r in rows]
            result[name][f"reused_tokens_{setting}"] = [int(r["timings"].get("prompt_reused_tokens", 0)) for r in rows]
            result[name]["prompt_tokens"] = [r["prompt_tokens"] for r in rows]
    return result


def eval_answers(reuse: str, limit: int, unanswerable: int) -> dict:
    done = subprocess.run([sys.executable, "-m", "foldrag.cli", "eval", str(KORQUAD), "--answers", "--limit", str(limit),
                           "--unanswerable", str(unanswerable), "--mode", "hybrid", "--json"],
                          env=env_for(reuse), capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout)


def part_korquad(work: Path, limit: int, unanswerable: int) -> dict:
    if not KORQUAD.exists():
        return {"skipped": f"{KORQUAD} missing"}
    runs = {"full": eval_answers("off", limit, unanswerable), "auto": eval_answers("auto", limit, unanswerable)}
    keys = ["contains_gold", "f1", "citation_precision", "citation_recall", "refusal_rate", "false_refusal_rate",
            "first_token_s_mean", "prompt_reused_share", "seconds_mean"]
    table = {name: {k: run["summary"].get(k) for k in keys} for name, run in runs.items()}
    full_rows = {r["qid"] + str(r["unanswerable"]): r for r in runs["full"]["rows"]}
    rows = runs["auto"]["rows"]
    same = sum(full_rows[r["qid"] + str(r["unanswerable"])]["answer"] == r["answer"] for r in rows)
    table["auto"]["identical_answers"] = f"{same} of {len(rows)}"
    auto, full = table["auto"]["first_token_s_mean"], table["full"]["first_token_s_mean"]
    table["auto"]["first_token_ratio"] = round(auto / full, 3)
    (work / "korquad-reports.json").write_text(json.dumps(runs, ensure_ascii=False))
    return table


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("parts", nargs="+", choices=["demo", "conversation", "korquad"])
    parser.add_argument("--settings", default="off,auto", help="conversation: the kv_reuse values compared")
    parser.add_argument("--backend", choices=["transformers", "llamacpp"], default="transformers",
                        help="generation.backend of every run (llamacpp: pip install 'foldrag[llamacpp]')")
    parser.add_argument("--limit", type=int, default=100, help="korquad: questions")
    parser.add_argument("--unanswerable", type=int, default=0, help="korquad: unanswerable questions added")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "foldrag-bench-kv")
    parser.add_argument("--prompt-weights", choices=["dequantize", "keep"], default="dequantize")
    args = parser.parse_args()
    settings = args.settings.split(",")
    if not set(settings) <= {"off", "auto"}:
        parser.error(f"--settings: kv_reuse is 'off' or 'auto', not {args.settings!r}")
    PROMPT_WEIGHTS["value"] = args.prompt_weights
    BACKEND["value"] = args.backend
    args.work.mkdir(parents=True, exist_ok=True)
    result: dict = {"cpu": cpu_name(), "model": MODEL, "backend": args.backend, "prompt_weights": args.prompt_weights}
    for part in args.parts:
        if part == "demo":
            result["demo"] = part_demo(args.work)
        elif part == "conversation":
            result["conversation"] = part_conversation(args.work, settings)
        else:
            result["korquad"] = part_korquad(args.work, args.limit, args.unanswerable)
        print(json.dumps({part: result[part]}, ensure_ascii=False, indent=1), flush=True)
    out = args.work / f"result-{'-'.join(args.parts)}-{args.prompt_weights}.json"
    out.write_text(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
