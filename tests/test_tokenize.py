from rag.core.tokenize import has_hangul
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
