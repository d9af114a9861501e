"""Citation markers in an answer: keep the ones that point at a source, drop the rest."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from foldrag.core.locations import Span
from foldrag.core.types import Hit, Signal

MARKER = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")  # [2] or [1, 3]; group 1: the numbers
_MARKS = r"((?:\[\d{1,3}\])+)"
_INSIDE_NUMBER = re.compile(r"[ \t]?" + _MARKS + r"((?:[.,]\d+)+)(?!\d)")
_INSIDE_WORD = re.compile(r"(?<=\w)" + _MARKS + r"(\w+)")


@dataclass(frozen=True)
class Citation:
    n: int
    chunk_id: str
    source: str
    page: int | None
    snippet: str
    score: float
    start: int = 0  # the chunk's characters in its page's (or file's) text
    end: int = 0
    spans: tuple[Span, ...] = ()  # its sentences with their boxes on the page, computed at ingest
    signals: tuple[Signal, ...] = ()  # the rankers' ranks and scores behind its place
    support: tuple[int, int] | None = None  # the chunk's sentence that supports the answer (chunk offsets)
    collection: str = ""  # the collection it came from, when a question asked several
    pages: tuple[int, ...] = ()  # every page the chunk spans; ``page`` is where its supporting sentence is

    @property
    def label(self) -> str:
        """``source`` with its page, e.g. ``guide.pdf p.3``: the string OpenAI-style clients list."""
        return self.source + (f" p.{self.page}" if self.page else "")

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "chunk_id": self.chunk_id, "source": self.source, "page": self.page,
                "pages": list(self.pages),
                "snippet": self.snippet, "score": round(self.score, 6), "start": self.start, "end": self.end,
                "spans": [s.to_json() for s in self.spans], "signals": [s.to_json() for s in self.signals],
                "support": list(self.support) if self.support else None, **({"collection": self.collection}
                                                                              if self.collection else {})}


def clean_citations(answer: str, sources: list[Citation]) -> tuple[str, list[Citation]]:
    """Remove markers whose numbers were not in the context; return the text and the cited sources.

    ``sources[n-1]`` is source ``n`` of the prompt. ``[1, 3]`` is understood as two citations.
    Citations come in order of first mention.
    """
    cited: list[int] = []

    def keep(match: re.Match) -> str:
        numbers = [int(x) for x in re.split(r"\s*,\s*", match.group(1))]
        valid = [n for n in numbers if 1 <= n <= len(sources)]
        for n in valid:
            if n not in cited:
                cited.append(n)
        return "".join(f"[{n}]" for n in valid)

    # A generation cut at max_tokens can end inside a multi-byte character.
    text = MARKER.sub(keep, answer.rstrip("\ufffd"))
    # A marker inside a word or a number ("Llama 3 [1].1", "Lla[1]ma") goes after it.
    text = _INSIDE_NUMBER.sub(r"\2 \1", text)
    text = _INSIDE_WORD.sub(r"\2 \1", text)
    text = re.sub(r"[ \t]+([.,;:!?])", r"\1", text)
    text = re.sub(r"[ \t]{2,}", " ", text).strip()
    return text, [sources[n - 1] for n in cited]


def without_markers(text: str) -> str:
    return MARKER.sub("", text)


def cite(sentence: str, n: int) -> str:
    """``sentence`` with ``[n]`` before its final punctuation: "It is red." → "It is red [2]."."""
    body = sentence.rstrip()
    stripped = body.rstrip(".!?。")
    return f"{stripped} [{n}]{body[len(stripped):]}" + sentence[len(body):]


def source_citation(n: int, hit: Hit, snippet_chars: int = 240) -> Citation:
    """Source number ``n`` of the context as a citation, its text cut to ``snippet_chars``."""
    snippet = " ".join(hit.chunk.text.split())
    return Citation(n=n, chunk_id=hit.chunk.id, source=hit.chunk.source, page=hit.chunk.page,
                    snippet=snippet[:snippet_chars] + ("…" if len(snippet) > snippet_chars else ""),
                    score=hit.score, start=hit.chunk.start, end=hit.chunk.end, spans=hit.chunk.spans,
                    signals=hit.signals, collection=hit.collection, pages=hit.chunk.pages())
