"""The manifest that makes an index folder self-describing."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from rag.core.errors import IndexCorrupt, IndexMismatch

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Manifest:
    embedder: str
    dimension: int
    normalized: bool = True
    metric: str = "inner_product"
    index_kind: str = "flat"
    tokenizer: str = ""  # the keyword tokenizer of the BM25 index ("" when there is none)
    keyword_passages: int = 0  # chunks per BM25 passage (0: chunk-level BM25 only)
    schema_version: int = SCHEMA_VERSION
    generation: int = 0
    files: int = 0
    chunks: int = 0
    updated_at: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False)

    @classmethod
    def read(cls, path: Path) -> "Manifest":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
            return cls(**known)
        except (OSError, ValueError, TypeError) as exc:
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
                f"not {embedder!r} ({dimension}-d); use the same embedding.model or a new --index folder"
            )
