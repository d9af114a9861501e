"""The chunk KV cache benchmark (issue 29): time to first token with the prompt computed in full
against reused attention caches, and whether the answers stay as good.

Parts (each run in its own processes, settings in FOLDRAG_* variables, alternated):
  demo          the demo's questions over examples/docs: full prefill (kv_reuse off), the shared prefix
                (auto), chunks blended (on: cold, an empty chunk cache; warm, the same questions again)
  conversation  5-turn conversations over the demo and over a SciFact sample, first token per turn
                (--settings: the kv_reuse values compared, e.g. off,carry)
  pairs         two-turn conversations of KorQuAD questions on one paragraph (--limit pairs): the
                follow-up packed afresh (off) against carried on its first turn (carry); quality and speed
  korquad       `foldrag eval --answers` on KorQuAD 1.0 dev (--limit questions): off, auto, on cold, on warm;
                contains-gold, F1, citation precision, identical greedy answers, first token
  disk          bytes per cached token, and the time to read and place a cached chunk

Usage:  .venv/bin/python bench/kv_reuse.py demo conversation korquad pairs disk [--limit 100] [--prompt-weights keep]
Needs the default answering model (`bash scripts/run.sh demo` installs it) and, for korquad and
the SciFact conversation, ../shared/data.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
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


def env_for(reuse: str, cache: Path, **extra: str) -> dict[str, str]:
    return dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", FOLDRAG_GENERATION__MODEL=MODEL,
                FOLDRAG_GENERATION__KV_REUSE=reuse, FOLDRAG_GENERATION__KV_CACHE_DIR=str(cache),
                FOLDRAG_GENERATION__TRANSFORMERS__PROMPT_WEIGHTS=PROMPT_WEIGHTS["value"],
                FOLDRAG_GENERATION__BACKEND=BACKEND["value"], **extra)


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


def ask_rounds(index: Path, questions: list[str], reuse: str, cache: Path, rounds: int, conversation: bool) -> list[dict]:
    done = subprocess.run([sys.executable, "-c", ASK, str(index), str(rounds), json.dumps(questions),
                           "1" if conversation else "0"], env=env_for(reuse, cache), capture_output=True, text=True)
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
                        "--index", str(index), "-q"], check=True, env=env_for("off", work / "kv"))
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
                   check=True, env=env_for("off", work / "kv"))
    return index


def first_tokens(rows: list[dict], round_: int) -> list[float]:
    return [r["timings"]["first_token_s"] for r in rows if r["round"] == round_]


def part_demo(work: Path) -> dict:
    """Two rounds of the demo questions per setting, each in a fresh process; round 1 is the one
    compared (warm: the prefix and, for 'on', the chunks cached by round 0)."""
    index = demo_index(work)
    cache = work / "kv-demo"
    shutil.rmtree(cache, ignore_errors=True)
    runs = {"off": ask_rounds(index, DEMO_QUESTIONS, "off", cache, 2, False),
            "auto": ask_rounds(index, DEMO_QUESTIONS, "auto", cache, 2, False),
            "on": ask_rounds(index, DEMO_QUESTIONS, "on", cache, 2, False)}
    full = first_tokens(runs["off"], 1)
    out: dict = {"full_mean_s": statistics.mean(full)}
    for name, rows, round_ in (("auto", runs["auto"], 1), ("on_cold", runs["on"], 0), ("on_warm", runs["on"], 1)):
        times = first_tokens(rows, round_)
        picked = [r for r in rows if r["round"] == round_]
        same = sum(a["answer"] == b["answer"] for a, b in zip([r for r in runs["off"] if r["round"] == 1], picked))
        out[name] = {"first_token_mean_s": statistics.mean(times),
                     "ratio": statistics.mean(times) / statistics.mean(full),
                     "per_question_ratio": [round(t / f, 3) for t, f in zip(times, full)],
                     "identical_answers": f"{same} of {len(picked)}",
                     "reused_share": sum(r["timings"]["prompt_reused_tokens"] for r in picked)
                     / sum(r["prompt_tokens"] for r in picked),
                     "answers": [r["answer"] for r in picked]}
    out["answers_full"] = [r["answer"] for r in runs["off"] if r["round"] == 1]
    return out


def part_conversation(work: Path, settings: list[str]) -> dict:
    result = {}
    sets = [("demo", demo_index(work), DEMO_TURNS)]
    if SCIFACT.exists():
        sets.append(("scifact-300", scifact_index(work), SCIFACT_TURNS))
    for name, index, turns in sets:
        cache = work / f"kv-conv-{name}"
        shutil.rmtree(cache, ignore_errors=True)
        result[name] = {"prompt_tokens": []}
        for setting in settings:  # 'on': the chunk cache fills as the conversation goes
            rows = ask_rounds(index, turns, setting, cache, 1, True)
            result[name][f"first_token_s_{setting}"] = [round(x, 2) for x in first_tokens(rows, 0)]
            result[name][f"condense_s_{setting}"] = [round(r["timings"].get("condense_s", 0.0), 2) for r in rows]
            result[name][f"reused_tokens_{setting}"] = [int(r["timings"]["prompt_reused_tokens"]) for r in rows]
            result[name]["prompt_tokens"] = [r["prompt_tokens"] for r in rows]
    return result


PAIRS = r"""
import json, sys, time, foldrag
from foldrag.evaluation.answers import AnswerCase, score
rag = foldrag.open(sys.argv[1], answers=True)
rag.load_generator()
mapping, pairs = json.loads(sys.argv[2]), json.loads(sys.argv[3])
out = []
for first, second in pairs:
    a = rag.ask(first["question"])
    t0 = time.perf_counter()
    b = rag.ask(second["question"], history=[{"role": "user", "content": first["question"]},
                                              {"role": "assistant", "content": a.answer}])
    case = AnswerCase(second["qid"], second["question"], tuple(second["gold"]), second["doc"], False)
    row = score(case, b, mapping.get, rag.tokenizer, time.perf_counter() - t0)
    row.update(condense_s=b.timings.get("condense_s", 0.0), retrieve_s=b.timings.get("retrieve_s", 0.0),
               prompt_tokens=b.prompt_tokens, first_answer=a.answer, first_token_first_s=a.timings["first_token_s"],
               first_prompt_tokens=a.prompt_tokens)
    out.append(row)
print(json.dumps(out, ensure_ascii=False))
"""


def korquad_pairs(limit: int, seed: int = 0) -> tuple[list, list[str]]:
    """``limit`` pairs of KorQuAD dev questions on one paragraph (seed ``seed``), and the paragraphs
    to index: theirs and as many others again, so that retrieval has to choose."""
    from foldrag.evaluation.datasets import load_korquad

    data = load_korquad(KORQUAD)
    by_doc: dict[str, list[str]] = {}
    for qid in sorted(data.queries):
        if data.answers.get(qid):
            by_doc.setdefault(next(iter(data.qrels[qid])), []).append(qid)
    docs = sorted(d for d, q in by_doc.items() if len(q) >= 2)
    rng = random.Random(seed)
    rng.shuffle(docs)
    pairs = []
    for doc in docs[:limit]:
        a, b = rng.sample(by_doc[doc], 2)
        pairs.append([{"qid": q, "question": data.queries[q], "gold": list(data.answers[q]), "doc": doc} for q in (a, b)])
    others = [d for d in sorted(by_doc) if d not in set(docs[:limit])]
    rng.shuffle(others)
    return pairs, docs[:limit] + others[:limit]


def part_pairs(work: Path, limit: int, settings: list[str]) -> dict:
    """Two-turn conversations: two KorQuAD questions on one paragraph, the second asked as a follow-up
    of the first. Its answer's quality, first token and reuse: packed afresh (``off``) against
    carried on the first turn (``carry``) — the same standalone question and retrieval in both."""
    if not KORQUAD.exists():
        return {"skipped": f"{KORQUAD} missing"}
    from foldrag.evaluation.datasets import load_korquad
    from foldrag.evaluation.runner import write_corpus

    pairs, docs = korquad_pairs(limit)
    data = load_korquad(KORQUAD)
    keep = set(docs)
    subset = type(data)(data.name, data.split, tuple(d for d in data.corpus if d.id in keep), {}, {})
    folder = work / f"korquad-pairs-{limit}"
    mapping = write_corpus(subset, folder / "docs")
    index = folder / "index"
    if not built(index):
        subprocess.run([str(ROOT / ".venv" / "bin" / "foldrag"), "ingest", str(folder / "docs"), "--index", str(index),
                        "-q"], check=True, env=env_for("off", work / "kv"))
    runs = {}
    for setting in ("off", "carry"):
        saved = folder / f"rows-{setting}-{BACKEND['value']}-{PROMPT_WEIGHTS['value']}.json"
        if setting not in settings and saved.exists():  # the baseline of an earlier run over the same pairs
            runs[setting] = json.loads(saved.read_text())
            continue
        done = subprocess.run([sys.executable, "-c", PAIRS, str(index), json.dumps(mapping), json.dumps(pairs)],
                              env=env_for(setting, work / "kv-pairs"), capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(done.stderr[-3000:])
        runs[setting] = json.loads(done.stdout.strip().splitlines()[-1])
        saved.write_text(json.dumps(runs[setting], ensure_ascii=False))
    table = {}
    for setting, rows in runs.items():
        precision = [r["citation_precision"] for r in rows if r["citation_precision"] is not None]
        table[setting] = {
            "contains_gold": statistics.mean(r["contains_gold"] for r in rows),
            "f1": statistics.mean(r["f1"] for r in rows),
            "citation_precision": statistics.mean(precision) if precision else None,
            "citation_recall": statistics.mean(r["citation_recall"] for r in rows),
            "first_token_s_mean": statistics.mean(r["first_token_s"] for r in rows),
            "condense_s_mean": statistics.mean(r["condense_s"] for r in rows),
            "prompt_tokens_mean": statistics.mean(r["prompt_tokens"] for r in rows),
            "computed_tokens_mean": statistics.mean(r["prompt_computed_tokens"] for r in rows),
            "reused_tokens_mean": statistics.mean(r["prompt_reused_tokens"] for r in rows),
            "carried": sum(r["prompt_reused_tokens"] > r["first_prompt_tokens"] // 2 for r in rows),
        }
    table["carry"]["first_token_ratio"] = table["carry"]["first_token_s_mean"] / table["off"]["first_token_s_mean"]
    table["pairs"] = len(pairs)
    table["first_answers_identical"] = sum(a["first_answer"] == b["first_answer"] for a, b in zip(runs["off"], runs["carry"]))
    table["second_answers_identical"] = sum(a["answer"] == b["answer"] for a, b in zip(runs["off"], runs["carry"]))
    (work / "pairs-reports.json").write_text(json.dumps(runs, ensure_ascii=False))
    return table


def eval_answers(reuse: str, cache: Path, limit: int, unanswerable: int) -> dict:
    done = subprocess.run([sys.executable, "-m", "foldrag.cli", "eval", str(KORQUAD), "--answers", "--limit", str(limit),
                           "--unanswerable", str(unanswerable), "--mode", "hybrid", "--json"],
                          env=env_for(reuse, cache), capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout)


def part_korquad(work: Path, limit: int, unanswerable: int) -> dict:
    if not KORQUAD.exists():
        return {"skipped": f"{KORQUAD} missing"}
    cache = work / "kv-korquad"
    shutil.rmtree(cache, ignore_errors=True)
    runs = {"full": eval_answers("off", cache, limit, unanswerable),
            "auto": eval_answers("auto", cache, limit, unanswerable),
            "cold": eval_answers("on", cache, limit, unanswerable),
            "warm": eval_answers("on", cache, limit, unanswerable)}
    keys = ["contains_gold", "f1", "citation_precision", "citation_recall", "refusal_rate", "false_refusal_rate",
            "first_token_s_mean", "prompt_reused_share", "seconds_mean"]
    table = {name: {k: run["summary"].get(k) for k in keys} for name, run in runs.items()}
    full_rows = {r["qid"] + str(r["unanswerable"]): r for r in runs["full"]["rows"]}
    for name in ("auto", "cold", "warm"):
        rows = runs[name]["rows"]
        same = sum(full_rows[r["qid"] + str(r["unanswerable"])]["answer"] == r["answer"] for r in rows)
        table[name]["identical_answers"] = f"{same} of {len(rows)}"
        table[name]["first_token_ratio"] = round(table[name]["first_token_s_mean"] / table["full"]["first_token_s_mean"], 3)
    (work / "korquad-reports.json").write_text(json.dumps(runs, ensure_ascii=False))
    return table


def part_disk(work: Path) -> dict:
    cache = work / "kv-demo"
    files = sorted(cache.rglob("*.kv"))
    if not files:
        return {"skipped": "run the demo part first"}
    code = r"""
import json, sys, time, torch
from pathlib import Path
from foldrag.generation.kv_store import KVStore
files = [Path(p) for p in sys.argv[1:]]
store = KVStore(files[0].parent, 1 << 40)
out = []
for f in files:
    t0 = time.perf_counter(); kv = store.get(f.stem); t1 = time.perf_counter()
    placed = torch.from_numpy(kv.copy()).to(torch.float32); t2 = time.perf_counter()
    out.append({"tokens": kv.shape[3], "bytes": f.stat().st_size, "read_check_ms": (t1 - t0) * 1e3,
                "to_model_dtype_ms": (t2 - t1) * 1e3, "ram_bytes_fp32": placed.numel() * 4})
print(json.dumps(out))
"""
    done = subprocess.run([sys.executable, "-c", code, *map(str, files)], capture_output=True, text=True, check=True)
    rows = json.loads(done.stdout)
    tokens = sum(r["tokens"] for r in rows)
    return {"chunks": len(rows), "bytes_per_token": sum(r["bytes"] for r in rows) / tokens,
            "ram_bytes_per_token_fp32": sum(r["ram_bytes_fp32"] for r in rows) / tokens,
            "mean_chunk_tokens": tokens / len(rows),
            "read_check_ms_mean": statistics.mean(r["read_check_ms"] for r in rows),
            "to_model_dtype_ms_mean": statistics.mean(r["to_model_dtype_ms"] for r in rows)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("parts", nargs="+", choices=["demo", "conversation", "korquad", "pairs", "disk"])
    parser.add_argument("--settings", default="off,auto,carry,on", help="conversation: the kv_reuse settings compared")
    parser.add_argument("--backend", choices=["transformers", "llamacpp"], default="transformers",
                        help="generation.backend of every run (llamacpp: pip install 'foldrag[llamacpp]')")
    parser.add_argument("--pairs-settings", default="off,carry",
                        help="pairs: the settings run now; 'off' left out reads the last run's rows of the same pairs")
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--unanswerable", type=int, default=0)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "foldrag-bench-kv")
    parser.add_argument("--prompt-weights", choices=["dequantize", "keep"], default="dequantize")
    args = parser.parse_args()
    PROMPT_WEIGHTS["value"] = args.prompt_weights
    BACKEND["value"] = args.backend
    args.work.mkdir(parents=True, exist_ok=True)
    result: dict = {"cpu": cpu_name(), "model": MODEL, "backend": args.backend, "prompt_weights": args.prompt_weights}
    for part in args.parts:
        if part == "demo":
            result["demo"] = part_demo(args.work)
        elif part == "conversation":
            result["conversation"] = part_conversation(args.work, args.settings.split(","))
        elif part == "korquad":
            result["korquad"] = part_korquad(args.work, args.limit, args.unanswerable)
        elif part == "pairs":
            result["pairs"] = part_pairs(args.work, args.limit, args.pairs_settings.split(","))
        else:
            result["disk"] = part_disk(args.work)
        print(json.dumps({part: result[part]}, ensure_ascii=False, indent=1), flush=True)
    out = args.work / f"result-{'-'.join(args.parts)}-{args.prompt_weights}.json"
    out.write_text(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
