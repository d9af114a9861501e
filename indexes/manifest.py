"""The manifest that makes an index folder self-describing."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from foldrag.core.errors import IndexCorrupt, IndexMismatch

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Manifest:
    embedder: str
    dimension: int
    normalized: bool = True
    metric: str = "inner_product"
    parts: dict[str, dict[str, Any]] = field(default_factory=dict)  # part name → what its build depended on
    schema_version: int = SCHEMA_VERSION
    generation: int = 0
    files: int = 0
    chunks: int = 0
    updated_at: str = ""
    checksums: dict[str, dict[str, Any]] = field(default_factory=dict)  # file → {"size", "sha256"} (integrity.py)
    # The runtime that made the latest vectors ("torch", "onnx-int8", ...; "" before foldrag recorded it:
    # torch). Vectors of another runtime join only after a check on a sample (ingest/vector_check.py).
    embedder_backend: str = ""

    @property
    def index_kind(self) -> str:
        """The FAISS kind of the vectors part."""
        return self.parts.get("vectors", {}).get("kind", "flat")

    @property
    def tokenizer(self) -> str:
        """The keyword tokenizer of the BM25 index ("" when there is none)."""
        return self.parts.get("keywords", {}).get("tokenizer", "")

    @property
    def keyword_passages(self) -> int:
        """Chunks per BM25 passage (0: chunk-level BM25 only)."""
        return self.parts.get("keywords", {}).get("passages", 0)

    def to_json(self) -> str:
        data = asdict(self)  # with the flat fields of manifests before parts, for older readers
        data.update(index_kind=self.index_kind, tokenizer=self.tokenizer, keyword_passages=self.keyword_passages)
        return json.dumps(data, indent=2, ensure_ascii=False)

    @classmethod
    def read(cls, path: Path) -> "Manifest":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or not isinstance(data.get("embedder"), str):
                raise ValueError("not a foldrag manifest")
            if "parts" not in data:  # written before index parts: the same facts, flat
                data["parts"] = _legacy_parts(data)
            known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
            return cls(**known)
        except (OSError, ValueError, TypeError, AttributeError, KeyError) as exc:
            raise IndexCorrupt(f"cannot read index manifest {path}: {exc}") from exc

    def check(self, embedder: str, dimension: int) -> None:
        """Raise IndexMismatch unless vectors of ``embedder`` belong in this index."""
        if self.schema_version != SCHEMA_VERSION:
            raise IndexMismatch(
                f"index schema version {self.schema_version} is not {SCHEMA_VERSION}; re-ingest into a new index folder"
            )
        if self.embedder != embedder or self.dimension != dimension:
            raise IndexMismatch(
                f"index was built with embedder {self.embedder!r} ({self.dimension}-d), "
                f"not {embedder!r} ({dimension}-d); use the same embedding.model, a new --index folder, or "
                f"`foldrag ingest FOLDER --reembed` to build it anew with {embedder!r}"
            )


def _legacy_parts(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    parts = {"vectors": {"kind": data.get("index_kind", "flat")}}
    if data.get("tokenizer"):
        parts["keywords"] = {"tokenizer": data["tokenizer"], "passages": data.get("keyword_passages", 0)}
    return parts
