"""Issue 41's situation, asked as the web app asks: the supporting sentences' time, the first token's,
and the answer, with the whole-chunk prompt and the focused one, on the same questions and machine.

Usage:  .venv/bin/python bench/evidence_situation.py [--model PATH.gguf] [--rounds 2] [--json]

The folder (tests/docs_factory.py ``write_situation``): a Korean study note with a model-size table,
examples/docs' leave-policy HWPX and RRF page, a two-page manual whose sentence sits on page 2 of a
chunk that starts on page 1. Indexed with the bundled multilingual-e5-small, served by ``create_app``
on uvicorn, answered by the 1.5B GGUF on llama.cpp (bench/fetch_models.py's file). Each question is
POSTed to /v1/query with ``stream: true`` (the web app's request); timed on the client from the
request to the ``evidence`` event and to the first ``token``. Round 1 gives the answers; later rounds
time a warm server again. Then one follow-up (with history: evidence after the condensing call).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from ingest_throughput import cpu_name  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
MODEL = Path.home() / ".cache" / "foldrag" / "bench" / "qwen2.5-coder-1.5b-instruct-q4.gguf"


def ask(url: str, question: str, history: list[dict] | None = None) -> dict:
    """One streamed question: seconds to the evidence and to the first token, and the final answer."""
    import httpx

    t0 = time.perf_counter()
    out: dict = {"question": question}
    kind = None
    with httpx.stream("POST", url + "/v1/query", json={"question": question, "stream": True,
                                                        "history": history or []}, timeout=600) as response:
        for line in response.iter_lines():
            if line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:"):
                data = json.loads(line[5:])
                now = time.perf_counter() - t0
                if kind == "evidence":
                    out["evidence_s"] = now
                    out["evidence"] = [(e["text"], e["source"], e["page"]) for e in data["evidence"]]
                elif kind == "token" and "first_token_s" not in out:
                    out["first_token_s"] = now
                elif kind == "done":
                    out.update(total_s=now, answer=data["answer"], method=data["citation_method"],
                               cited=[(c["n"], c["source"], c["page"]) for c in data["citations"]],
                               prompt_tokens=data["timings"].get("prompt_computed_tokens", 0)
                               + data["timings"].get("prompt_reused_tokens", 0))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--prompts", nargs="+", default=["chunks", "focused"])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not args.model.exists():
        sys.exit(f"{args.model} missing: bench/fetch_models.py fetches it")

    import httpx

    from foldrag.api.app import create_app
    from foldrag.build import build_collections
    from foldrag.core.settings import Settings
    from tests.docs_factory import SITUATION_QUESTIONS, write_situation
    from tests.server_support import live_server

    report: dict = {"cpu": cpu_name(), "model": args.model.name, "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        docs = write_situation(tmp / "docs", REPO / "examples" / "docs")
        for prompt in args.prompts:
            settings = Settings.load(index={"path": tmp / "index"},
                                     server={"conversations": tmp / f"conversations-{prompt}.sqlite"},
                                     generation={"model": str(args.model), "backend": "llamacpp", "prompt": prompt})
            collections = build_collections(settings, {"situation": tmp / "index"})
            collections["situation"].ingest(docs)
            app = create_app(settings, collections)
            rows = []
            with live_server(app) as url:
                while httpx.get(url + "/readyz").status_code != 200:
                    time.sleep(0.1)
                ask(url, "warm-up: 병가?")  # the models load here, not in a timed question
                for round_ in range(args.rounds):
                    for question, right in SITUATION_QUESTIONS:
                        row = ask(url, question)
                        row.update(round=round_ + 1, right=any(r in row.get("answer", "") for r in right))
                        rows.append(row)
                        print(json.dumps(row, ensure_ascii=False), file=sys.stderr, flush=True)
                first, right = SITUATION_QUESTIONS[3]
                follow = ask(url, "비고에는 뭐라고 적혀 있나요?",
                             history=[{"role": "user", "content": first}, {"role": "assistant", "content": "30일입니다 [1]."}])
                follow.update(round="follow-up")
                rows.append(follow)
            for rag in collections.values():
                rag.close()
            report["runs"][prompt] = rows
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
        return
    print(f"CPU: {report['cpu']}; model {report['model']} (llama.cpp)")
    for prompt, rows in report["runs"].items():
        first_qs = [r for r in rows if r["round"] != "follow-up"]
        print(f"\n## prompt = {prompt}")
        print("| question | evidence s | first token s | prompt tokens | right | answer |")
        print("|---|---|---|---|---|---|")
        for r in rows:
            if r["round"] in (1, "follow-up"):
                print(f"| {r['question']} | {r.get('evidence_s', 0):.2f} | {r.get('first_token_s', 0):.2f} | "
                      f"{r.get('prompt_tokens', 0):.0f} | {r.get('right', '–')} | {r.get('answer', '')[:90]} |")
        print(f"evidence p50 {statistics.median(r['evidence_s'] for r in first_qs):.2f} s; first token p50 "
              f"{statistics.median(r.get('first_token_s', 0) for r in first_qs):.2f} s")


if __name__ == "__main__":
    main()
