"""Chunking counts tokens of every piece it weighs: the count must be the model's, and cheap."""

from __future__ import annotations

import numpy as np
import pytest

from foldrag.embedders import MINILM, EmbedderRecipe, SentenceTransformerEmbedder, _counting_tokenizer, resolve_model_path

TEXTS = ["hello world, this is a test", "형태소 분석기는 명사와 동사 같은 내용 형태소만 남깁니다. H200 GPU", " ", "",
         "word " * 700, "Tab\there\n\nnew  para [CLS] [SEP] <s>", "été naïve — “quotes”"]


class _Model:
    tokenizer = None

    def get_embedding_dimension(self) -> int:
        return 2

    def encode(self, texts, **kwargs):
        return np.zeros((len(texts), 2), dtype=np.float32)


class _CountingTokenizer:
    """A slow tokenizer (no Rust backend): one id per word; records what it was asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def encode(self, text, add_special_tokens=True):
        self.asked.append(text)
        return list(range(len(text.split())))


def test_token_length_is_the_tokenizers_own_count_without_padding_or_truncation():
    """MiniLM's tokenizer.json pads and truncates to 128: the Rust tokenizer used directly must not."""
    tokenizer = _counting_tokenizer(resolve_model_path(MINILM))
    embedder = SentenceTransformerEmbedder(_Model(), name="minilm", tokenizer=tokenizer)
    expected = [len(tokenizer.encode(text, add_special_tokens=False)) for text in TEXTS]
    assert [embedder.token_length(text) for text in TEXTS] == expected
    assert expected[4] == 700  # past the model's 128/512 limit: counted whole
    # a Ray worker's chunking counts through the recipe: the same counter
    recipe = EmbedderRecipe(MINILM, "cpu", "float32", 32, "torch", "off")
    assert [recipe.token_length()(text) for text in TEXTS] == expected


def test_token_length_is_remembered_for_the_pieces_chunking_weighs_again():
    tokenizer = _CountingTokenizer()
    embedder = SentenceTransformerEmbedder(_Model(), name="fake", tokenizer=tokenizer)
    assert [embedder.token_length(t) for t in ("a b c", " ", "a b c", " ", "d")] == [3, 0, 3, 0, 1]
    assert tokenizer.asked == ["a b c", " ", "d"]


@pytest.mark.slow
def test_the_multilingual_tokenizers_count_is_its_own():
    from foldrag.embedders import MULTILINGUAL_E5

    tokenizer = _counting_tokenizer(resolve_model_path(MULTILINGUAL_E5))
    embedder = SentenceTransformerEmbedder(_Model(), name="e5", tokenizer=tokenizer)
    assert [embedder.token_length(text) for text in TEXTS] == [
        len(tokenizer.encode(text, add_special_tokens=False)) for text in TEXTS]
