"""Run an evaluation set through foldrag: ingest its corpus, retrieve every query, score."""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from foldrag.evaluation.datasets import EvalSet
from foldrag.evaluation.metrics import mrr_at, ndcg_at, percentile, recall_at

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def doc_filename(doc_id: str) -> str:
    safe = _UNSAFE.sub("_", doc_id)
    digest = hashlib.sha1(doc_id.encode()).hexdigest()[:8]
    return f"{safe}-{digest}.md"


def default_eval_dir(dataset: EvalSet, dataset_path: Path, embedder_model: str) -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "foldrag" / "eval"
    # One index per corpus and embedder: a BEIR set's splits (train, test) share their corpus.
    key = hashlib.sha1(f"{dataset_path.resolve()}|{embedder_model}".encode()).hexdigest()[:10]
    return cache / f"{dataset.name}-{key}"


def write_corpus(dataset: EvalSet, folder: Path) -> dict[str, str]:
    """One Markdown file per document (title as heading); returns file name → document id.

    Files already there with the same content are left alone, so a second run re-embeds nothing.
    """
    folder.mkdir(parents=True, exist_ok=True)
    mapping = {}
    for doc in dataset.corpus:
        name = doc_filename(doc.id)
        mapping[name] = doc.id
        content = (f"# {doc.title}\n\n{doc.text}\n" if doc.title else f"{doc.text}\n")
        path = folder / name
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")
    return mapping


def evaluate(dataset: EvalSet, retrieve: Callable[[str, str], list[str]], modes: list[str],
             progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """``retrieve(query, mode)`` returns document ids best first (a document ranks at its best chunk)."""
    results: dict[str, Any] = {}
    for mode in modes:
        ndcg, r5, r10, r100, mrr, latency = [], [], [], [], [], []
        for qid, text in dataset.queries.items():
            t0 = time.perf_counter()
            ranked = retrieve(text, mode)
            latency.append((time.perf_counter() - t0) * 1000)
            relevant = dataset.qrels[qid]
            ndcg.append(ndcg_at(ranked, relevant, 10))
            r5.append(recall_at(ranked, relevant, 5))
            r10.append(recall_at(ranked, relevant, 10))
            r100.append(recall_at(ranked, relevant, 100))
            mrr.append(mrr_at(ranked, relevant, 10))
            if progress:
                progress(1)
        n = max(len(ndcg), 1)
        results[mode] = {
            "ndcg@10": round(sum(ndcg) / n, 4),
            "recall@5": round(sum(r5) / n, 4),
            "recall@10": round(sum(r10) / n, 4),
            "recall@100": round(sum(r100) / n, 4),
            "mrr@10": round(sum(mrr) / n, 4),
            "latency_ms_mean": round(sum(latency) / n, 2),
            "latency_ms_p95": round(percentile(latency, 0.95), 2),
        }
    return results


def documents_from_hits(hits, source_to_doc: dict[str, str]) -> list[str]:
    ranked: list[str] = []
    seen: set[str] = set()
    for hit in hits:
        doc = source_to_doc.get(hit.chunk.source)
        if doc is not None and doc not in seen:
            seen.add(doc)
            ranked.append(doc)
    return ranked
