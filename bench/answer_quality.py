"""The answer benchmark: `foldrag eval --answers` on KorQuAD 1.0 dev for the extractive floor and each
candidate model that installs offline, on the same question sample; one table row per run.

Usage:  .venv/bin/python bench/answer_quality.py [--rows floor smollm2-135m ...] [--limit 100] [--unanswerable 20]
        [--queries bench/sets/korquad-en.jsonl --limit 30 --unanswerable 0]

Each row runs in its own process with its settings in FOLDRAG_* variables; its full report (one
row per question) is written to --out, so two runs can be compared question by question. Models
other than the bundled one come from bench/fetch_models.py's cache; a row whose file is missing is
skipped with a note.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

CACHE = Path.home() / ".cache" / "foldrag" / "bench"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "korquad-v1-dev" / "KorQuAD_v1.0_dev.json"

# row name → (settings as FOLDRAG_* variables, the model file it needs or None)
ROWS = {
    "floor": ({"FOLDRAG_GENERATION__MODE": "quote"}, None),
    "smollm2-135m": ({"FOLDRAG_GENERATION__MODEL": "bundled:SmolLM2-135M-Instruct"}, None),
    "gemma-3-270m": ({"FOLDRAG_GENERATION__MODEL": str(CACHE / "gemma-3-270m-q4_k_m.gguf"),
                      "FOLDRAG_GENERATION__PRESET": "plain"}, CACHE / "gemma-3-270m-q4_k_m.gguf"),
    "qwen2.5-coder-0.5b": ({"FOLDRAG_GENERATION__MODEL": str(CACHE / "qwen2.5-coder-0.5b-instruct-q4.gguf")},
                           CACHE / "qwen2.5-coder-0.5b-instruct-q4.gguf"),
    # the default answering model (foldrag[qwen]); the same bytes as bench/fetch_models.py's file
    "qwen2.5-coder-1.5b": ({"FOLDRAG_GENERATION__MODEL": "bundled:Qwen2.5-Coder-1.5B-Instruct"}, None),
    # the same model as a GGUF on llama.cpp (bench/fetch_models.py's file): where transformers decodes slowly
    "qwen2.5-coder-1.5b-llamacpp": ({"FOLDRAG_GENERATION__MODEL": str(CACHE / "qwen2.5-coder-1.5b-instruct-q4.gguf"),
                                     "FOLDRAG_GENERATION__BACKEND": "llamacpp"},
                                    CACHE / "qwen2.5-coder-1.5b-instruct-q4.gguf"),
}
COLUMNS = ["contains_gold", "f1", "language_ok", "citation_precision", "citation_recall", "refusal_rate",
           "false_refusal_rate", "echoed", "looped", "seconds_mean", "seconds_p95"]


def run_row(name: str, args) -> dict | None:
    env_extra, needs = ROWS[name]
    if needs is not None and not needs.exists():
        print(f"{name}: skipped, {needs} missing (bench/fetch_models.py)", file=sys.stderr)
        return None
    env = dict(os.environ, **env_extra)
    if args.backend and name not in ("floor",):
        env["FOLDRAG_GENERATION__BACKEND"] = args.backend
    out = subprocess.run(
        [sys.executable, "-m", "foldrag.cli", "eval", str(args.data), "--answers", "--limit", str(args.limit),
         "--unanswerable", str(args.unanswerable), "--seed", str(args.seed), "--mode", args.mode, "--json",
         *(["--queries", str(args.queries)] if args.queries else [])],
        env=env, capture_output=True, text=True)
    if out.returncode != 0:
        print(f"{name}: failed\n{out.stderr[-3000:]}", file=sys.stderr)
        return None
    report = json.loads(out.stdout)
    report["row"] = name
    report["cpu"] = _cpu()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"answers-{name}.json").write_text(json.dumps(report, ensure_ascii=False, indent=1))
    return report


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} × {os.cpu_count()}"
    except OSError:
        pass
    return platform.processor()


def table_line(report: dict) -> str:
    s = report["summary"]

    def cell(key: str) -> str:
        value = s[key]
        if value is None:
            return "n/a"
        if key in ("echoed", "looped"):
            return str(value)
        if key.startswith("seconds"):
            return f"{value:.2f}"
        return f"{value:.3f}"

    return f"| {report['row']} | " + " | ".join(cell(k) for k in COLUMNS) + f" | {report['load_s']:.1f} |"


def rescore_reports(args) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from foldrag.core.tokenize import KeywordTokenizer
    from foldrag.evaluation.answers import rescore, summarize

    tokenize = KeywordTokenizer()
    print("| row | " + " | ".join(COLUMNS) + " | load s |")
    print("|" + "---|" * (len(COLUMNS) + 2))
    for name in args.rows:
        path = args.out / f"answers-{name}.json"
        if not path.exists():
            continue
        report = json.loads(path.read_text())
        report["rows"] = rescore(report["rows"], tokenize)
        report["summary"] = summarize(report["rows"])
        path.write_text(json.dumps(report, ensure_ascii=False, indent=1))
        print(table_line(report))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--unanswerable", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mode", default="hybrid")
    parser.add_argument("--backend", default=None, help="generation.backend for the model rows")
    parser.add_argument("--queries", type=Path, default=None,
                        help="other questions over the dataset, e.g. bench/sets/korquad-en.jsonl (30 English "
                        "questions over Korean paragraphs, gold in Korean and English; use --limit 30 --unanswerable 0)")
    parser.add_argument("--out", type=Path, default=CACHE / "answers")
    parser.add_argument("--rescore", action="store_true",
                        help="score the reports in --out again from their texts (no model runs)")
    args = parser.parse_args()
    if args.rescore:
        rescore_reports(args)
        return
    if not args.data.exists():
        raise SystemExit(f"{args.data} missing: the benchmark needs ../shared/data")
    print("| row | " + " | ".join(COLUMNS) + " | load s |")
    print("|" + "---|" * (len(COLUMNS) + 2))
    for name in args.rows:
        report = run_row(name, args)
        if report:
            print(table_line(report), flush=True)


if __name__ == "__main__":
    main()
