"""`foldrag eval` end to end: a toy BEIR set with known answers, and a slice of KorQuAD from ../shared."""

from __future__ import annotations

import dataclasses
import json

import pytest

from foldrag.core.errors import InvalidInput
from foldrag.evaluation.datasets import load_beir, load_korquad
from tests.conftest import SHARED_DATA, run_cli

pytestmark = pytest.mark.slow


def _toy_beir(folder):
    (folder / "qrels").mkdir(parents=True)
    docs = {
        "d1": ("Aspirin", "Aspirin reduces the risk of heart attacks in adults."),
        "d2": ("Vitamin D", "Vitamin D deficiency is linked to weak bones."),
        "d3": ("Sleep", "Lack of sleep impairs memory consolidation."),
    }
    with open(folder / "corpus.jsonl", "w") as handle:
        for did, (title, text) in docs.items():
            handle.write(json.dumps({"_id": did, "title": title, "text": text}) + "\n")
    queries = {"q1": "does aspirin prevent heart attacks", "q2": "vitamin d and bone weakness", "q3": "unjudged"}
    with open(folder / "queries.jsonl", "w") as handle:
        for qid, text in queries.items():
            handle.write(json.dumps({"_id": qid, "text": text}) + "\n")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n")


def test_beir_loader_keeps_only_judged_queries(tmp_path):
    _toy_beir(tmp_path / "toy")
    data = load_beir(tmp_path / "toy")
    assert set(data.queries) == {"q1", "q2"} and data.qrels["q1"] == {"d1": 1} and len(data.corpus) == 3


def test_eval_json_report_and_reuse(tmp_path):
    _toy_beir(tmp_path / "toy")
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    out = run_cli("eval", str(tmp_path / "toy"), "--mode", "bm25", "--mode", "hybrid", "--json", env=env)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert (report["dataset"], report["split"], report["queries"]) == ("toy", "test", 2)
    assert report["fusion"].startswith("convex (minmax); dense weight ko→ko 0.35, en→en 0.5")
    for mode in ("bm25", "hybrid"):
        metrics = report["results"][mode]
        assert set(metrics) == {"ndcg@10", "recall@5", "recall@10", "recall@100", "mrr@10", "latency_ms_mean", "latency_ms_p95"}
        assert metrics["ndcg@10"] == 1.0 and metrics["mrr@10"] == 1.0
    again = run_cli("eval", str(tmp_path / "toy"), "--mode", "bm25", "--json", env=env)
    assert again.returncode == 0
    assert "0 chunks" in again.stderr or "0 embedded" in again.stderr or "files to check" in again.stderr
    cache_dirs = list((tmp_path / "cache" / "foldrag" / "eval").iterdir())
    assert len(cache_dirs) == 1, "the second run reused the first run's temporary index"


@pytest.mark.skipif(not (SHARED_DATA / "korquad-v1-dev").exists(), reason="../shared/data is absent")
def test_korquad_slice_bm25_finds_paragraphs(tmp_path):
    source = SHARED_DATA / "korquad-v1-dev" / "KorQuAD_v1.0_dev.json"
    data = json.loads(source.read_text(encoding="utf-8"))
    small = {"version": data.get("version"), "data": data["data"][:3]}
    path = tmp_path / "korquad_slice.json"
    path.write_text(json.dumps(small, ensure_ascii=False), encoding="utf-8")
    loaded = load_korquad(path)
    assert len(loaded.corpus) >= 3 and len(loaded.queries) > 20
    out = run_cli("eval", str(path), "--mode", "bm25", "--mode", "hybrid", "--limit", "40", "--json",
                  env={"XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)["results"]
    assert results["bm25"]["ndcg@10"] > 0.8
    assert results["hybrid"]["ndcg@10"] >= results["bm25"]["ndcg@10"] - 1e-9


def test_a_question_file_of_ids_alone_is_a_split_of_the_dataset(tmp_path):
    """bench/sets/korquad-tune.jsonl names its questions by id: the dataset's own text and judgements."""
    from foldrag.evaluation.datasets import with_queries

    _toy_beir(tmp_path / "toy")
    data = load_beir(tmp_path / "toy")
    first = next(iter(data.queries))
    split = tmp_path / "half.jsonl"
    split.write_text(json.dumps({"id": first}) + "\n", encoding="utf-8")
    half = with_queries(data, split)
    assert half.queries == {first: data.queries[first]} and half.qrels == {first: data.qrels[first]}
    split.write_text(json.dumps({"id": "no-such-question"}) + "\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="half.jsonl:1"):
        with_queries(data, split)


def test_the_splits_of_one_corpus_share_one_eval_index(tmp_path):
    from foldrag.evaluation.runner import default_eval_dir

    _toy_beir(tmp_path / "toy")
    test = load_beir(tmp_path / "toy")
    train = dataclasses.replace(test, split="train")
    assert default_eval_dir(test, tmp_path / "toy", "e5") == default_eval_dir(train, tmp_path / "toy", "e5")
    assert default_eval_dir(test, tmp_path / "toy", "e5") != default_eval_dir(test, tmp_path / "toy", "minilm")
