"""The generation backend registry: a name in settings → a class, imported only when chosen."""

from __future__ import annotations

import re
from typing import get_args

import pytest

from foldrag.core.contracts import TextStream, complete
from foldrag.core.errors import MissingDependency
from foldrag.core.settings import GenerationSettings, Settings
from foldrag.generation import backends
from foldrag.core.plugins import Plugin
from foldrag.generation.backends import BACKENDS, load_generator, resolve_backend


class EchoBackend:
    """A backend as a new file would add one: ``load(settings)`` and the Generator contract."""

    name = "echo"
    context_window = 512
    reasoning = False

    def __init__(self, model: str) -> None:
        self.model = model

    @classmethod
    def load(cls, settings: GenerationSettings) -> "EchoBackend":
        return cls(settings.model)

    def prompt_tokens(self, messages) -> int:
        return sum(len(m["content"].split()) for m in messages)

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def cache_stats(self):
        return {}

    def stream(self, messages, *, max_tokens=256, temperature=None, stop=(), passages=()) -> TextStream:
        def produce(stream):
            try:
                yield from messages[-1]["content"].split()[:max_tokens]
            finally:
                stream.finish(prompt_tokens=0, new_tokens=1, engine="echo")

        return TextStream(produce)


def test_settings_offer_exactly_the_registered_backends():
    assert set(get_args(GenerationSettings.model_fields["backend"].annotation)) == {"auto"} | set(BACKENDS)


def test_auto_picks_transformers_for_a_local_model():
    assert resolve_backend(GenerationSettings()) == "transformers"


def test_a_registered_backend_is_loaded_by_name(monkeypatch):
    monkeypatch.setitem(BACKENDS, "transformers", Plugin("tests.test_backends", "EchoBackend", "nothing"))
    generator = load_generator(GenerationSettings(backend="transformers", model="/models/echo"))
    assert isinstance(generator, EchoBackend) and generator.model == "/models/echo"
    assert complete(generator, [{"role": "user", "content": "one two three"}], max_tokens=2) == "onetwo"


def test_a_backend_whose_package_is_missing_names_what_to_install(monkeypatch):
    monkeypatch.setitem(backends.BACKENDS, "transformers",
                        Plugin("foldrag_no_such_package.engine", "Engine", "pip install 'foldrag[nothing]'"))
    with pytest.raises(MissingDependency, match=r"foldrag\[nothing\]") as err:
        load_generator(GenerationSettings(backend="transformers"))
    assert "foldrag_no_such_package" in str(err.value)


def test_moved_transformers_keys_name_their_new_place(monkeypatch, tmp_path):
    monkeypatch.setenv("FOLDRAG_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("FOLDRAG_GENERATION__DTYPE", "float32")
    with pytest.raises(ValueError, match=r"generation\.dtype is now generation\.transformers\.dtype"):
        Settings.load()
    monkeypatch.delenv("FOLDRAG_GENERATION__DTYPE")
    monkeypatch.setenv("FOLDRAG_GENERATION__TRANSFORMERS__DTYPE", "float32")
    assert Settings.load().generation.transformers.dtype == "float32"


@pytest.mark.parametrize("old, new", [
    ("RRF_K", r"retrieval\.fusion\.rrf_k"), ("DENSE_WEIGHT", r"retrieval\.fusion\.dense"),
    ("KEYWORD_WEIGHT", r"retrieval\.fusion\.dense"), ("FOREIGN_KEYWORD_WEIGHT", r"fusion\.dense\.ko_en"),
    ("FOREIGN_DENSE_WEIGHT", "BM25 alone"), ("KEYWORD_CHUNK_WEIGHT", r"index\.bm25_chunk_weight")])
def test_replaced_retrieval_keys_are_refused_with_their_new_name(monkeypatch, tmp_path, old, new):
    monkeypatch.setenv("FOLDRAG_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv(f"FOLDRAG_RETRIEVAL__{old}", "1")
    with pytest.raises(ValueError, match=rf"retrieval\.{old.lower()} is replaced by .*{new}"):
        Settings.load()


def test_an_unknown_retrieval_key_is_refused_and_the_fusion_is_read_from_the_config(monkeypatch, tmp_path):
    config = tmp_path / "foldrag.toml"
    monkeypatch.setenv("FOLDRAG_CONFIG", str(config))
    config.write_text("[retrieval]\nrrf_kk = 3\n", encoding="utf-8")
    with pytest.raises(ValueError, match="rrf_kk"):
        Settings.load()
    config.write_text('[retrieval.fusion]\nmethod = "rrf"\nrrf_k = 10\n[retrieval.fusion.dense]\nko_en = 1.0\n',
                      encoding="utf-8")
    fusion = Settings.load().retrieval.fusion
    assert (fusion.method, fusion.rrf_k, fusion.dense.ko_en, fusion.dense.ko_ko) == ("rrf", 10.0, 1.0, 0.35)


def test_a_converted_model_is_found_by_its_content_not_its_path(tmp_path):
    """The same GGUF in another place (a clone, a reinstall) reuses one conversion; other bytes do not."""
    import os

    from foldrag.generation.model_files import content_key

    data = os.urandom(3 << 20)
    first, second = tmp_path / "a" / "m.gguf", tmp_path / "b" / "copy.gguf"
    for path in (first, second):
        path.parent.mkdir()
        path.write_bytes(data)
    os.utime(second, ns=(1, 1))
    assert content_key(first) == content_key(second)
    changed = bytearray(data)
    changed[2 << 20] ^= 1  # one byte
    second.write_bytes(bytes(changed))
    assert content_key(first) != content_key(second)


@pytest.mark.parametrize("backend, package, extra", [("llamacpp", "llama_cpp", "foldrag[llamacpp]"),
                                                     ("openai", "openai", "foldrag[openai]")])
def test_an_optional_backend_without_its_package_says_what_to_install(monkeypatch, backend, package, extra):
    import sys

    monkeypatch.setitem(sys.modules, package, None)  # as if it were not installed
    monkeypatch.delitem(sys.modules, f"foldrag.generation.{backend}_backend", raising=False)
    with pytest.raises(MissingDependency, match=rf"generation\.backend = '{backend}'.*{re.escape(extra)}"):
        load_generator(GenerationSettings(backend=backend, base_url="http://127.0.0.1:9/v1"))
