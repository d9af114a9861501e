"""Hybrid retrieval over a real index built with the fake embedder and the real Kiwi tokenizer."""

from __future__ import annotations

from tests.server_support import shared_tokenizer

import pytest

from foldrag.indexes.folder import open_snapshot
from foldrag.build import build_rag
from foldrag.core.errors import InvalidInput
from tests.fakes import ScriptedChat


@pytest.fixture
def docs(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "fusion.md").write_text("# Fusion\n\nReciprocal rank fusion merges ranked lists.")
    (folder / "gpu.txt").write_text("GPU offload places decoder layers in video memory.")
    (folder / "ko.md").write_text("# 형태소\n\n형태소 분석기는 조사를 버리고 명사를 남깁니다.")
    (folder / "rag.txt").write_text("RAG를 사용하면 문서를 근거로 답합니다.")
    return folder


def _rag(settings, embedder, generator=None, **retrieval):
    if retrieval:
        settings = settings.model_copy(update={"retrieval": settings.retrieval.model_copy(update=retrieval)})
    return build_rag(settings, embedder=embedder, generator=generator, tokenizer=shared_tokenizer())


def test_bm25_matches_korean_across_particles(docs, settings, fake_embedder):
    rag = _rag(settings, fake_embedder)
    rag.ingest(docs)
    hits = rag.search("RAG는 무엇인가", k=2, mode="bm25")
    assert hits[0].chunk.source == "rag.txt"
    assert rag.search("형태소 분석기가", k=1, mode="bm25")[0].chunk.source == "ko.md"


def test_hybrid_trace_has_every_list_and_stage(docs, settings, fake_embedder):
    rag = _rag(settings, fake_embedder)
    rag.ingest(docs)
    result = rag.retrieve("rank fusion lists", k=3, mode="hybrid")
    trace = result.trace.to_json()
    assert result.hits[0].chunk.source == "fusion.md"
    assert [(l["retriever"], l["query"]) for l in trace["lists"]] == [("dense", "rank fusion lists"), ("bm25", "rank fusion lists")]
    assert trace["fused"][0]["id"] == result.hits[0].chunk.id and trace["fused"][0]["rank"] == 1
    assert {"dense", "bm25", "fusion", "total"} <= set(trace["timings_ms"])
    assert trace["fusion"] == "convex (minmax); dense weight en→ko 1, en→en 0.5 (BM25: the rest)"
    for fused in trace["fused"]:
        assert fused["score"] == pytest.approx(sum(p["contribution"] for p in fused["parts"]), abs=1e-5)
        assert {p["list"] for p in fused["parts"]} <= {"dense", "bm25"}


def test_one_list_keeps_its_own_scores(docs, settings, fake_embedder):
    """dense alone scores by cosine, bm25 alone by BM25: nothing is normalised when nothing is fused."""
    rag = _rag(settings, fake_embedder)
    rag.ingest(docs)
    snapshot = rag.snapshot()
    vector = fake_embedder.embed(["rank fusion lists"], query=True)[0]
    rows = {chunk.id: row for row, chunk in snapshot.store.by_rowids(range(snapshot.faiss_index.ntotal)).items()}
    for hit in rag.retrieve("rank fusion lists", k=3, mode="dense").hits:  # the cosine FAISS gave
        cosine = float(vector @ snapshot.faiss_index.reconstruct(rows[hit.chunk.id]))
        assert hit.score == pytest.approx(cosine, abs=1e-5)
    bm25 = rag.retrieve("rank fusion lists", k=3, mode="bm25").hits
    assert bm25[0].score > 1.0, "a raw BM25 score, not one normalised to 1"


def test_auto_on_an_index_without_bm25_is_dense_and_hybrid_says_why_not(docs, settings, fake_embedder):
    settings = settings.model_copy(update={"index": settings.index.model_copy(update={"keyword": False})})
    rag = _rag(settings, fake_embedder)
    rag.ingest(docs)
    assert rag.retrieve("gpu").trace.mode == "dense"
    with pytest.raises(InvalidInput, match="no BM25 index"):
        rag.retrieve("gpu", mode="hybrid")


def test_korean_question_with_english_only_embedder_keeps_keyword_order(docs, settings, fake_embedder):
    settings = settings.model_copy(update={"embedding": settings.embedding.model_copy(update={"languages": ["en"]})})
    rag = _rag(settings, fake_embedder)
    rag.ingest(docs)
    bm25 = [h.chunk.id for h in rag.search("형태소 분석기", k=10, mode="bm25")]
    result = rag.retrieve("형태소 분석기", k=10, mode="hybrid")
    hybrid = [h.chunk.id for h in result.hits]
    assert hybrid[: len(bm25)] == bm25, "dense ranks never reorder keyword results for an unknown language"
    assert len(hybrid) > len(bm25), "dense results still fill in after them"
    assert any("not Korean" in n for n in result.trace.notes)


def test_multi_mode_runs_every_query_on_both_retrievers(docs, settings, fake_embedder):
    gen = ScriptedChat("1. video memory layers\n2. GPU decoder offload")
    rag = _rag(settings, fake_embedder, generator=gen)
    rag.ingest(docs)
    assert rag.retrieve("where do layers go", k=2).trace.mode == "hybrid"  # auto is hybrid, even with a model
    assert gen.calls == [], "no rewrite was asked for"
    result = rag.retrieve("where do layers go", k=2, mode="multi")
    assert result.trace.mode == "multi"
    assert result.trace.queries == ("where do layers go", "video memory layers", "GPU decoder offload")
    assert len(result.trace.lists) == 6
    assert result.hits[0].chunk.source == "gpu.txt"
    assert "rewrite" in result.trace.timings_ms


def test_modes_and_errors(docs, settings, fake_embedder):
    rag = _rag(settings, fake_embedder)
    rag.ingest(docs)
    assert rag.retrieve("gpu", mode="dense").trace.mode == "dense"
    assert rag.retrieve("gpu").trace.mode == "hybrid"  # no generator: hybrid by default
    with pytest.raises(InvalidInput, match="needs a generator"):
        rag.retrieve("gpu", mode="multi")
    with pytest.raises(InvalidInput, match="unknown mode"):
        rag.retrieve("gpu", mode="magic")
    with pytest.raises(InvalidInput, match="empty"):
        rag.retrieve("   ")


def test_bm25_in_step_after_update_and_delete(docs, settings, fake_embedder):
    rag = _rag(settings, fake_embedder)
    rag.ingest(docs)
    (docs / "gpu.txt").write_text("Quantization shrinks weights to four bits.")
    (docs / "fusion.md").unlink()
    rag.ingest(docs)
    assert rag.search("quantization", k=1, mode="bm25")[0].chunk.source == "gpu.txt"
    assert rag.search("decoder layers offload", k=5, mode="bm25") == []
    assert rag.search("reciprocal fusion", k=5, mode="bm25") == []
    snap = open_snapshot(settings.index.path)
    assert len(snap.keyword_index.rowids) == snap.store.count() == snap.faiss_index.ntotal
    snap.close()


def test_tokenizer_recorded_in_manifest(docs, settings, fake_embedder):
    rag = _rag(settings, fake_embedder)
    rag.ingest(docs)
    assert open_snapshot(settings.index.path).manifest.tokenizer == rag.tokenizer.id


@pytest.mark.slow
def test_reranker_rescoring_and_threshold(docs, settings, fake_embedder, tmp_path):
    """A tiny cross-encoder built here; its scores decide the order and the threshold drops hits."""
    import torch
    from sentence_transformers import CrossEncoder
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    vocab = tmp_path / "vocab.txt"
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted({w.lower() for w in
             "reciprocal rank fusion merges ranked lists gpu offload places decoder layers in video memory".split()})
    vocab.write_text("\n".join(words))
    model_dir = tmp_path / "tiny-ce"
    tokenizer = BertTokenizerFast(vocab_file=str(vocab))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(words), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, num_labels=1)
    BertForSequenceClassification(config).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    CrossEncoder(str(model_dir), num_labels=1).save_pretrained(str(model_dir))

    from foldrag.retrieval.rerank import CrossEncoderReranker

    reranker = CrossEncoderReranker.load(str(model_dir))
    rag = _rag(settings, fake_embedder)
    rag.ingest(docs)
    fused = rag.search("gpu layers", k=4, mode="hybrid")
    rescored = reranker.rerank("gpu layers", fused)
    scores = [h.score for h in rescored]
    assert scores == sorted(scores, reverse=True) and {h.chunk.id for h in rescored} == {h.chunk.id for h in fused}
    middle = (scores[0] + scores[-1]) / 2
    kept = CrossEncoderReranker(reranker._model, threshold=middle).rerank("gpu layers", fused)
    assert 0 < len(kept) < len(fused) and all(h.score >= middle for h in kept)

    wired = build_rag(settings.model_copy(update={"retrieval": settings.retrieval.model_copy(
        update={"reranker_model": str(model_dir)})}), embedder=fake_embedder,
        tokenizer=shared_tokenizer())
    result = wired.retrieve("gpu layers", k=4, mode="hybrid")
    assert "rerank" in result.trace.timings_ms
    assert [h.score for h in result.hits] == scores


def test_an_index_of_the_previous_tokenizer_is_searched_until_its_next_ingest_retokenizes_it(docs, settings, fake_embedder):
    from foldrag.core.errors import IndexMismatch
    from foldrag.core.tokenize import KeywordTokenizer

    class Previous(KeywordTokenizer):
        id = "kiwi-content+snowball-en/v2"

    class Foreign(KeywordTokenizer):
        id = "someone-else/v1"

    build_rag(settings, embedder=fake_embedder, tokenizer=Previous()).ingest(docs)
    rag = _rag(settings, fake_embedder)
    assert rag.search("형태소 분석기가", k=1, mode="bm25")[0].chunk.source == "ko.md"  # v2's index, v3's questions
    rag.ingest(docs)
    assert open_snapshot(settings.index.path).manifest.tokenizer == rag.tokenizer.id  # re-tokenized
    build_rag(settings, embedder=fake_embedder, tokenizer=Foreign()).ingest(docs)
    with pytest.raises(IndexMismatch, match="someone-else/v1"):
        _rag(settings, fake_embedder).search("gpu offload", k=1, mode="bm25")
