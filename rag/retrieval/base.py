"""The retriever contract."""

from __future__ import annotations

from typing import Protocol

from rag.types import Hit


class Retriever(Protocol):
    """Ranks the chunks of one index for a query, best first."""

    name: str

    def search(self, query: str, k: int) -> list[Hit]: ...
