"""A GGUF's tensor table — each tensor's name, quantization type, shape and byte range — kept as a
small JSON file next to the cached tokenizer, so a later load maps the tensors without parsing the
file's metadata again.

gguf-py's ``GGUFReader`` parses every metadata value into its own numpy array; for a 150k-token
vocabulary that is ~6 s on this project's 2-core test machine, at every load, for data the loader
does not use (the tokenizer and config are cached already). The first load reads the table with
``GGUFReader`` and writes it; later loads build the same memory-mapped views from it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMAT = 1
FILE = "tensors.json"


@dataclass(frozen=True)
class Tensor:
    """What the loader reads of a tensor; ``data`` is a read-only view of the mapped file, shaped
    as gguf-py shapes it (rows of blocks as bytes for quantized types)."""

    name: str
    tensor_type: Any  # gguf.GGMLQuantizationType
    shape: tuple[int, ...]  # GGUF order: the fastest-moving dimension first
    n_elements: int
    n_bytes: int
    data_offset: int
    data: Any  # numpy array


def open_tensors(path: Path, folder: Path):
    """(tensors, the file's memory map) for the GGUF at ``path``; the table is read from ``folder``
    when it was written there for this file, else taken from ``GGUFReader`` and written."""
    import numpy as np
    from gguf import GGMLQuantizationType

    size = path.stat().st_size
    table = _load(folder / FILE, size)
    if table is None:
        table = _from_reader(path, size)
        _save(folder / FILE, table)
    mapped = np.memmap(path, dtype=np.uint8, mode="r")
    tensors = []
    for entry in table["tensors"]:
        start, count = entry["offset"], entry["n_bytes"]
        data = mapped[start:start + count].view(np.dtype(entry["dtype"])).reshape(entry["data_shape"])
        tensors.append(Tensor(entry["name"], GGMLQuantizationType(entry["type"]), tuple(entry["shape"]),
                              entry["n_elements"], count, start, data))
    return tensors, mapped


def _from_reader(path: Path, size: int) -> dict[str, Any]:
    from gguf import GGUFReader

    reader = GGUFReader(str(path))
    tensors = [{"name": t.name, "type": int(t.tensor_type), "shape": [int(n) for n in t.shape],
                "n_elements": int(t.n_elements), "n_bytes": int(t.n_bytes), "offset": int(t.data_offset),
                "dtype": t.data.dtype.str, "data_shape": [int(n) for n in t.data.shape]} for t in reader.tensors]
    return {"format": FORMAT, "size": size, "tensors": tensors}


def _load(file: Path, size: int) -> dict[str, Any] | None:
    try:
        table = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = (isinstance(table, dict) and table.get("format") == FORMAT and table.get("size") == size
          and all(t["offset"] + t["n_bytes"] <= size for t in table.get("tensors", [])))
    return table if ok and table["tensors"] else None


def _save(file: Path, table: dict[str, Any]) -> None:
    """Written whole or not at all: a temporary file, then a rename. A folder that cannot be written
    costs the next load the parse again, nothing else."""
    tmp = file.with_name(file.name + ".tmp")
    try:
        tmp.write_text(json.dumps(table), encoding="utf-8")
        os.replace(tmp, file)
    except OSError:
        tmp.unlink(missing_ok=True)
