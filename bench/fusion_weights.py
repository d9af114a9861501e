"""Which fusion, with which weights, per language pair (issue 42): tuned on one split, reported on another.

For every set it takes the dense and the BM25 list of each question once (100 chunks deep, the
eval index `foldrag eval` builds; cached), then fuses them offline with foldrag's own fusion
functions (rag/retrieval/fusion.py) — documents at their best chunk, as `foldrag eval` ranks them:

- tuning sets: SciFact train (English → English), the tuning half of KorQuAD dev by article
  (bench/sets/korquad-tune.jsonl; Korean → Korean), Korean claims written from SciFact *train*
  claims (bench/sets/scifact-ko-train.jsonl; Korean → English), English questions written from the
  tuning half's (bench/sets/korquad-en-tune.jsonl; English → Korean). For each pair, every function on a
  grid (RRF k ∈ {2, 10, 60} and convex over min-max or DBSF scores; the dense weight 0.05…0.95) is
  scored by nDCG@10. One function serves every pair (the one whose best points average highest);
  under it each pair takes its best weight, or the better member alone where no weight beats it.
- report sets, never used for tuning: SciFact test, the other KorQuAD half
  (bench/sets/korquad-report.jsonl), bench/sets/scifact-ko.jsonl (test claims), and the 30
  English questions over KorQuAD (bench/sets/korquad-en.jsonl). Each gets dense, BM25,
  equal-weight RRF (k 60) and the chosen default.

The two question files written for tuning: scifact-ko-train.jsonl holds every 10th SciFact train
claim (ids in numeric order, the first 80) in Korean; korquad-en-tune.jsonl the first question of
every 20th paragraph of the tuning half (then offsets 10 and 5 until 80; none from a paragraph of
korquad-en.jsonl) in English — each written for this repository by a project session (no translation
model), names romanised as English texts write them.

    python bench/fusion_weights.py [--depth 100] [--json]

--depth fuses only each list's first N chunks (≤ 100; default 50): min-max scores depend on how
deep a list goes, and the answer path takes `retrieval.candidates` (50) from each (a deeper list,
as `foldrag eval`'s, is normalised by its first 50 scores: the same top ranks).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data"
SCIFACT = DATA / "beir-scifact"
KORQUAD = DATA / "korquad-v1-dev" / "KorQuAD_v1.0_dev.json"
sys.path.insert(0, str(HERE))
from ingest_throughput import cpu_name  # noqa: E402

# name: (dataset, split, question file or None, language pair, role)
SETS = {
    "scifact-train": (SCIFACT, "train", None, "en_en", "tune"),
    "korquad-tune": (KORQUAD, "dev", HERE / "sets" / "korquad-tune.jsonl", "ko_ko", "tune"),
    "scifact-ko-train": (SCIFACT, "train", HERE / "sets" / "scifact-ko-train.jsonl", "ko_en", "tune"),
    "korquad-en-tune": (KORQUAD, "dev", HERE / "sets" / "korquad-en-tune.jsonl", "en_ko", "tune"),
    "scifact-test": (SCIFACT, "test", None, "en_en", "report"),
    "korquad-report": (KORQUAD, "dev", HERE / "sets" / "korquad-report.jsonl", "ko_ko", "report"),
    "scifact-ko": (SCIFACT, "test", HERE / "sets" / "scifact-ko.jsonl", "ko_en", "report"),
    "korquad-en": (KORQUAD, "dev", HERE / "sets" / "korquad-en.jsonl", "en_ko", "report"),
}
DEPTH = 100  # taken once; fused --depth deep (default 50, the answer path's retrieval.candidates)
WEIGHTS = [round(i * 0.05, 2) for i in range(21)]


def collect(name: str) -> dict:
    """Each question's dense and BM25 lists: [chunk id, score, document id, passage in Hangul]."""
    from foldrag.build import build_rag
    from foldrag.core.settings import Settings
    from foldrag.core.tokenize import has_hangul
    from foldrag.evaluation.datasets import load_dataset, with_queries
    from foldrag.evaluation.runner import default_eval_dir, write_corpus

    path, split, questions, _, _ = SETS[name]
    data = load_dataset(path, split)
    if questions is not None:
        data = with_queries(data, questions)
    work = default_eval_dir(data, path, Settings.load().embedding.model)
    if not (work / "index").exists():
        raise SystemExit(f"no eval index at {work}: run `foldrag eval {path}` first")
    generation = (work / "index" / "CURRENT").read_text().strip()  # a new ingest, new lists
    key = hashlib.sha1(json.dumps([name, sorted(data.queries.items()), generation]).encode()).hexdigest()[:12]
    cache = Path.home() / ".cache" / "foldrag" / "bench" / f"fusion-lists-{name}-{key}.json"
    if cache.exists():
        return json.loads(cache.read_text())
    settings = Settings.load(index={"path": work / "index"})
    settings = settings.model_copy(update={"retrieval": settings.retrieval.model_copy(update={"candidates": DEPTH})})
    rag = build_rag(settings, with_generator=False)
    source_to_doc = write_corpus(data, work / "corpus")
    lists = {}
    for n, (qid, text) in enumerate(data.queries.items(), 1):
        lists[qid] = {"text": text, "relevant": data.qrels[qid]}
        for mode in ("dense", "bm25"):
            hits = rag.search(text, k=DEPTH, mode=mode)
            lists[qid][mode] = [[h.chunk.id, h.score, source_to_doc.get(h.chunk.source), has_hangul(h.chunk.text)]
                                for h in hits]
        if n % 200 == 0:
            print(f"{name}: {n}/{len(data.queries)}", file=sys.stderr)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(lists))
    return lists


def ndcg(lists: dict, fuse) -> float:
    """Mean nDCG@10 over the questions, ``fuse(question's lists)`` giving chunk ids best first."""
    from foldrag.evaluation.metrics import ndcg_at

    total = 0.0
    for q in lists.values():
        doc_of = {c[0]: c[2] for mode in ("dense", "bm25") for c in q[mode]}
        ranked, seen = [], set()
        for cid in fuse(q):
            doc = doc_of[cid]
            if doc is not None and doc not in seen:
                seen.add(doc)
                ranked.append(doc)
        total += ndcg_at(ranked, q["relevant"], 10)
    return round(total / max(len(lists), 1), 4)


def member(mode: str):
    return lambda q: [c[0] for c in q[mode]]


def fused(method: str, normalise: str, k: float, dense_weight: float):
    from foldrag.retrieval.fusion import Fusion, Ranked

    fusion = Fusion(method, normalise, k)

    def run(q: dict) -> list[str]:
        lists = [Ranked(tuple(c[0] for c in q[m]), tuple(c[1] for c in q[m])) for m in ("dense", "bm25")]
        return [f.id for f in fusion(lists, [dense_weight, 1.0 - dense_weight])]
    return run


def grid() -> list[tuple[str, str, float]]:
    return [("rrf", "minmax", k) for k in (2.0, 10.0, 60.0)] + [("convex", n, 60.0) for n in ("minmax", "dbsf")]


def grids(lists: dict) -> dict:
    """Every grid point's nDCG@10 on one tuning set: {(method, normalise, k): {dense weight: score}}."""
    return {(method, normalise, k): {w: ndcg(lists, fused(method, normalise, k, w)) for w in WEIGHTS[1:-1]}
            for method, normalise, k in grid()}


def choose(tuning: dict) -> dict:
    """One function for every pair (the one whose best point — or the better member, where that is
    higher — summed over the pairs is highest), then each pair's best weight under it, or the better
    member alone where no weight beats it."""
    family = max(grid(), key=lambda g: sum(max(*t["grid"][g].values(), *t["members"].values())
                                           for t in tuning.values()))
    chosen = {}
    for pair, t in tuning.items():
        weight, score = max(t["grid"][family].items(), key=lambda item: (item[1], -abs(item[0] - 0.5)))
        top = max(t["members"], key=t["members"].get)
        if score <= t["members"][top]:
            weight, score = (1.0 if top == "dense" else 0.0), t["members"][top]
        chosen[pair] = {"method": family[0], "normalise": family[1], "k": family[2], "dense": weight,
                        "ndcg@10": score, "members": t["members"],
                        "best elsewhere": max((v, f"{g[0]}/{g[1] if g[0] == 'convex' else f'k={g[2]:g}'}/{w}")
                                              for g, ws in t["grid"].items() for w, v in ws.items())}
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    lists = {name: {qid: {**q, "dense": q["dense"][: args.depth], "bm25": q["bm25"][: args.depth]}
                    for qid, q in collect(name).items()} for name in SETS}
    tuning = {pair: {"members": {m: ndcg(lists[name], member(m)) for m in ("dense", "bm25")},
                     "grid": grids(lists[name])}
              for name, (_, _, _, pair, role) in SETS.items() if role == "tune"}
    chosen = choose(tuning)
    report = {"cpu": cpu_name(), "depth": args.depth, "tuned": chosen, "reported": {}}
    for name, (_, _, _, pair, role) in SETS.items():
        b = chosen[pair]
        report["reported"][name] = {
            "pair": pair, "role": role, "questions": len(lists[name]),
            "dense": ndcg(lists[name], member("dense")), "bm25": ndcg(lists[name], member("bm25")),
            "rrf k=60 equal": ndcg(lists[name], fused("rrf", "minmax", 60.0, 0.5)),
            "default": ndcg(lists[name], fused(b["method"], b["normalise"], b["k"], b["dense"])),
        }
    if args.json:
        print(json.dumps({**report, "grids": {p: {"/".join(map(str, g)): ws for g, ws in t["grid"].items()}
                                              for p, t in tuning.items()}}, indent=1))
        return
    print(f"CPU: {report['cpu']}; lists {args.depth} deep")
    for pair, c in report["tuned"].items():
        print(f"{pair}: members {c['members']} → {c['method']} ({c['normalise']}) dense {c['dense']}: "
              f"{c['ndcg@10']}; best of the whole grid {c['best elsewhere']}")
    print(f"{'set':18} {'role':6} {'n':>5} {'dense':>7} {'bm25':>7} {'rrf60':>7} {'default':>8}")
    for name, r in report["reported"].items():
        print(f"{name:18} {r['role']:6} {r['questions']:5} {r['dense']:7.4f} {r['bm25']:7.4f} "
              f"{r['rrf k=60 equal']:7.4f} {r['default']:8.4f}")


if __name__ == "__main__":
    main()
