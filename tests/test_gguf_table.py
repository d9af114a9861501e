"""The cached GGUF tensor table gives exactly the views gguf-py's reader gives, and heals."""

from __future__ import annotations

import json

import numpy as np
import pytest

from foldrag.generation.gguf_table import FILE, open_tensors
from foldrag.generation.bundled import bundled_gguf


@pytest.fixture(scope="module")
def gguf():
    return bundled_gguf("bundled:SmolLM2-135M-Instruct")


def test_table_views_equal_the_readers_and_are_reused(gguf, tmp_path, monkeypatch):
    from gguf import GGUFReader

    reader = GGUFReader(str(gguf))
    first, _ = open_tensors(gguf, tmp_path)
    assert (tmp_path / FILE).exists()
    import gguf as gguf_py

    monkeypatch.setattr(gguf_py, "GGUFReader", lambda *a, **k: pytest.fail("the table was parsed again"))
    again, mapped = open_tensors(gguf, tmp_path)
    assert len(again) == len(reader.tensors) == len(first)
    for mine, theirs in zip(again, reader.tensors):
        assert (mine.name, mine.tensor_type, mine.shape) == (theirs.name, theirs.tensor_type, tuple(int(n) for n in theirs.shape))
        assert (mine.n_bytes, mine.data_offset, mine.n_elements) == (theirs.n_bytes, theirs.data_offset, theirs.n_elements)
        assert mine.data.dtype == theirs.data.dtype and mine.data.shape == theirs.data.shape
        assert np.array_equal(mine.data[:2], theirs.data[:2])
    assert not mine.data.flags.writeable


@pytest.mark.parametrize("damage", ["not json", json.dumps({"format": 1, "size": 1, "tensors": []})])
def test_a_damaged_or_foreign_table_is_rebuilt(gguf, tmp_path, damage):
    (tmp_path / FILE).write_text(damage)
    tensors, _ = open_tensors(gguf, tmp_path)
    assert len(tensors) > 100
    assert json.loads((tmp_path / FILE).read_text())["size"] == gguf.stat().st_size
