"""Optional reranking of fused chunks with a local sentence-transformers CrossEncoder."""

from __future__ import annotations

import dataclasses

from pathlib import Path

from foldrag.core.errors import ModelUnavailable
from foldrag.core.types import Hit


class CrossEncoderReranker:
    def __init__(self, model, threshold: float | None = None) -> None:
        self._model = model
        self.threshold = threshold

    @classmethod
    def load(cls, path: str, threshold: float | None = None, device: str = "cpu") -> "CrossEncoderReranker":
        from sentence_transformers import CrossEncoder

        folder = Path(path).expanduser()
        if not (folder / "config.json").exists():
            raise ModelUnavailable(f"reranker not found at {folder} (needs a local CrossEncoder folder with config.json)")
        try:
            return cls(CrossEncoder(str(folder), device=device, local_files_only=True), threshold)
        except Exception as exc:
            raise ModelUnavailable(f"could not load reranker from {folder}: {exc}") from exc

    def score(self, query: str, texts: list[str]) -> list[float]:
        """One relevance score per text (the extractive answer's sentence scorer)."""
        if not texts:
            return []
        return [float(s) for s in self._model.predict([(query, t) for t in texts], show_progress_bar=False)]

    def rerank(self, query: str, hits: list[Hit]) -> list[Hit]:
        if not hits:
            return []
        scores = self._model.predict([(query, h.chunk.text) for h in hits], show_progress_bar=False)
        rescored = sorted((dataclasses.replace(h, score=float(s)) for h, s in zip(hits, scores)), key=lambda h: -h.score)
        if self.threshold is not None:
            rescored = [h for h in rescored if h.score >= self.threshold]
        return rescored
