from foldrag.core.tokenize import has_hangul
from tests.server_support import shared_tokenizer

tok = shared_tokenizer()


def test_korean_particles_are_dropped_so_forms_match():
    assert "rag" in tok("RAG를 사용합니다") and "rag" in tok("RAG는 검색 증강 생성입니다")
    assert set(tok("형태소 분석기가 필요합니다")) == {"형태소", "분석기", "필요"}
    assert not {"를", "는", "가", "이", "ᆸ니다"} & set(tok("RAG를 데이터는 모델이 씁니다"))


def test_english_is_lowercased_stemmed_and_stopworded():
    assert tok("The Running dogs were running") == ["run", "dog", "run"]


def test_mixed_script_text_is_split_per_script():
    tokens = tok("GPU offloading은 레이어를 나눕니다 in 2024")
    assert {"gpu", "offload", "레이어", "2024"} <= set(tokens)
    assert "in" not in tokens


def test_has_hangul():
    assert has_hangul("abc 한") and not has_hangul("abc")


def test_names_of_several_words_give_one_token_per_word():
    # Kiwi's multi-word dictionary made "더글러스 맥아더" one token, space inside: the index stores tokens
    # space-joined and held two words, the question kept one that matched nothing.
    tokens = tok("더글러스 맥아더는 연합군 최고 사령부를 이끌었다")
    assert {"더글러스", "맥아더", "연합군", "사령부"} <= set(tokens)
    assert not [t for t in tokens if " " in t]


def test_a_question_naming_a_person_finds_the_korean_chunk_by_bm25(tmp_path, settings, fake_embedder):
    from tests.server_support import make_collection

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "history.md").write_text("# 전쟁사\n\n더글러스 맥아더는 1945년 연합군 최고 사령관으로 일본에 부임하였다.\n")
    (docs / "other.md").write_text("# 요리\n\n김치찌개는 김치와 돼지고기를 넣고 끓인다.\n")
    chunks_alone = settings.model_copy(update={"index": settings.index.model_copy(update={"bm25_passage_chunks": 0})})
    rag = make_collection(chunks_alone, fake_embedder, None, docs)
    hits = rag.retrieve("더글러스 맥아더", k=2, mode="bm25").hits
    assert hits and hits[0].chunk.source == "history.md"
