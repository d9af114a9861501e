"""The evidence: the few sentences of the retrieved chunks that best answer a question, found
before any model writes — what every client shows first, what the focused prompt is made of, and
what an answer is checked against.

A chunk's sentences are its stored spans (PDF and OCR pages, with their boxes) or, for the text
formats, ``core.locations.sentence_spans`` of its text — always derived from the stored chunk, never
from the file. A sentence scores by meaning and by words: ``meaning_weight`` × the multilingual
embedder's cosine between the question and the sentence + the rest × the share of the question's
keywords it could hold that it holds (BM25's analyzer: a Korean question's English names match an
English sentence, its Korean words are not held against it). A table row
is read with its table's header row, as "header: value" pairs.

Example::

    found = select_evidence("병가는 며칠인가요?", hits, tokenize=tokenizer, embed=embedder.embed)
    found[0].text, found[0].n, found[0].page       # '구분: 병가 · 일수: 30일', 1, None
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from foldrag.core.locations import LINE_MARKUP, PageBoxes, sentence_spans
from foldrag.core.tokenize import has_hangul
from foldrag.core.types import Chunk, Hit
from foldrag.generation.citations import cite

# ``Embedder.embed``: (texts, query=…, urgent=…) → L2-normalised rows
Embed = Callable[..., np.ndarray]

_ROW = re.compile(r"^\s*\|(.*)\|\s*$")
_RULE = re.compile(r"^\s*\|?\s*:?-{2,}")
_HEADING = re.compile(r"^\s*#+\s")


@dataclass(frozen=True)
class Evidence:
    """One supporting sentence: where it is (its chunk, the chunk's source number ``n`` — what ``[n]``
    in the answer points at — its source file, the page it is on, its boxes) and how well it answers."""

    n: int
    chunk_id: str
    source: str
    page: int | None  # the page the sentence is on (a PDF chunk may start on the page before)
    start: int  # the sentence's characters in its chunk's text
    end: int
    text: str  # as written; a table row as "header: value" pairs
    score: float  # meaning_weight × cosine + the rest × coverage
    coverage: float  # the share of the question's keywords it holds
    similarity: float  # the embedder's cosine with the question (0 without an embedder)
    boxes: tuple[PageBoxes, ...] = ()
    collection: str = ""
    row: tuple[tuple[str, str], ...] = ()  # a table row's (header, value) pairs

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "chunk_id": self.chunk_id, "source": self.source, "page": self.page,
                "start": self.start, "end": self.end, "text": self.text, "score": round(self.score, 4),
                "boxes": [b.to_json() for b in self.boxes],
                **({"row": [list(pair) for pair in self.row]} if self.row else {}),
                **({"collection": self.collection} if self.collection else {})}


@dataclass(frozen=True)
class Sentence:
    """A candidate: a sentence of source ``n``'s chunk, offsets in the chunk's text."""

    n: int
    hit: Hit
    start: int
    end: int
    text: str  # what is scored and shown
    row: tuple[tuple[str, str], ...] = ()  # a table row's (header, value) pairs; ``text`` reads them


def table_header(text: str, start: int) -> list[str] | None:
    """The cells of the header row of the Markdown table holding the line at ``start`` (the row
    just above a ``|---|`` rule), or None when that line is not a table body row."""
    lines = text[:start].split("\n")[:-1]  # the lines above the row
    rows: list[str] = []
    for line in reversed(lines):
        if not line.strip().startswith("|"):
            break
        rows.append(line)
    rows.reverse()  # the table's lines above the row, top first
    for i in range(len(rows) - 1):
        if _RULE.match(rows[i + 1]) and _ROW.match(rows[i]):
            return cells(rows[i])
    return None


def cells(line: str) -> list[str]:
    match = _ROW.match(line)
    return [c.strip() for c in match.group(1).split("|")] if match else []


def as_pairs(pairs: Sequence[tuple[str, str]]) -> str:
    """A table row's (header, value) pairs read as text: "크기: 7B · 기반: Qwen2.5-Math-7B"."""
    return " · ".join(f"{h}: {v}" if h else v for h, v in pairs)


def sentences_of(n: int, hit: Hit) -> list[Sentence]:
    """The sentences of ``hit``'s chunk: its stored spans, else split from its text. A table's
    rule and header rows are not sentences; a body row reads with its header."""
    chunk = hit.chunk
    spans = [(s.start, s.end) for s in chunk.spans] or sentence_spans(chunk.text)
    out = []
    for a, b in spans:
        raw = chunk.text[a:b]
        if _ROW.match(raw.strip()):
            header = table_header(chunk.text, a)
            row = cells(raw.strip())
            if header is None or _RULE.match(raw) or not any(any(ch.isalnum() for ch in c) for c in row):
                continue
            pairs = tuple((h, v) for h, v in zip(header, row) if v)  # empty cells left out
            out.append(Sentence(n, hit, a, b, as_pairs(pairs), row=pairs))
            continue
        if _HEADING.match(raw):  # a heading heads the prompt's source and the evidence's place
            continue
        text = " ".join(LINE_MARKUP.sub("", raw).split())
        if sum(ch.isalnum() for ch in text) >= 2:
            out.append(Sentence(n, hit, a, b, text))
    return out


def select_evidence(question: str, hits: Sequence[Hit], *, tokenize: Callable[[str], list[str]],
                    embed: Embed | None = None, limit: int = 4, chunks: int = 5,
                    meaning_weight: float = 0.5, carry: float = 0.9) -> tuple[Evidence, ...]:
    """The ``limit`` sentences of the first ``chunks`` hits that best answer ``question``, best first.

    ``n`` is the hit's place in ``hits`` (from 1). Without ``embed`` sentences score by keywords alone.
    """
    candidates = [s for n, hit in enumerate(hits[:chunks], start=1) for s in sentences_of(n, hit)]
    if not candidates:
        return ()
    wanted = set(tokenize(question))
    words = [set(tokenize(s.text)) for s in candidates]
    coverage = [len(wanted & w) / len(wanted) if wanted else 0.0 for w in words]
    if embed is not None:
        vectors = embed([s.text for s in candidates], query=False, urgent=True)  # a person waits
        query = embed([question], query=True)[0]
        similarity = [float(v) for v in vectors @ query]
        weight = meaning_weight
    else:
        similarity, weight = [0.0] * len(candidates), 0.0
    scores = [weight * sim + (1 - weight) * _matched(wanted, w, has_hangul(s.text)) if weight < 1 else sim
              for s, w, sim in zip(candidates, words, similarity)]
    # A sentence that follows a strong one often finishes its thought ("RRF merges ranked lists. Each
    # document scores the sum of 1/(k + rank)..."): it ranks at least ``carry`` of its predecessor.
    own = list(scores)
    for i in range(1, len(candidates)):
        if candidates[i].hit is candidates[i - 1].hit and not candidates[i].row:
            scores[i] = max(own[i], carry * own[i - 1])
    # ties go to the better-ranked chunk, then the earlier sentence
    order = sorted(range(len(candidates)), key=lambda i: (-scores[i], candidates[i].n, candidates[i].start))
    chosen, seen = [], set()
    for i in order:
        s = candidates[i]
        if s.text in seen:  # the same sentence in two chunks (an overlap) counts once
            continue
        seen.add(s.text)
        chosen.append(_evidence(s, scores[i], coverage[i], similarity[i]))
        if len(chosen) == limit:
            break
    return tuple(chosen)


def _matched(wanted: set[str], words: set[str], hangul: bool) -> float:
    """The share of the question's keywords a sentence holds, of those it could hold: all of them in
    a Korean sentence (which writes English names too), only those without Hangul in one without —
    a Korean question's English names match an English sentence, its Korean words cannot."""
    own = wanted if hangul else {w for w in wanted if not has_hangul(w)}
    return len(own & words) / len(own) if own else 0.0


def _evidence(s: Sentence, score: float, coverage: float, similarity: float) -> Evidence:
    chunk: Chunk = s.hit.chunk
    boxes = next((span.boxes for span in chunk.spans if span.start < s.end and s.start < span.end), ())
    return Evidence(n=s.n, chunk_id=chunk.id, source=chunk.source, page=chunk.page_of(s.start, s.end),
                    start=s.start, end=s.end, text=s.text, score=score, coverage=coverage, similarity=similarity,
                    boxes=boxes, collection=s.hit.collection, row=s.row)


def answers_question(evidence: Evidence, question: str, *, min_coverage: float = 0.45,
                     min_similarity: float = 0.86) -> bool:
    """Whether ``evidence`` is strong enough to answer ``question`` from: it holds ``min_coverage``
    of the question's keywords (the extractive floor's bar), or — in another language than the
    question, where words cannot match — the embedder finds it that close in meaning."""
    if evidence.coverage >= min_coverage:
        return True
    return has_hangul(question) != has_hangul(evidence.text) and evidence.similarity >= min_similarity


def holding(hits: Sequence[Hit], evidence: Sequence[Evidence]) -> list[Hit]:
    """The hits whose chunks hold evidence, in their order: the focused prompt's sources."""
    wanted = {e.chunk_id for e in evidence}
    return [hit for hit in hits if hit.chunk.id in wanted]


def renumbered(evidence: Sequence[Evidence], sources: Sequence[Hit]) -> tuple[Evidence, ...]:
    """``evidence`` numbered by its chunk's place in ``sources`` (what ``[n]`` means in the prompt);
    a sentence whose chunk is not among them goes."""
    place = {hit.chunk.id: n for n, hit in enumerate(sources, start=1)}
    return tuple(dataclasses.replace(e, n=place[e.chunk_id]) for e in evidence if e.chunk_id in place)


# What the evidence answer says before a sentence quoted in another language than the question's.
IN_ANOTHER_LANGUAGE = {"en": "The documents say, in Korean:", "ko": "문서에는 영어로 이렇게 적혀 있습니다:"}


def quoted(question: str, evidence: Sequence[Evidence], *, close: float = 0.9) -> str | None:
    """The evidence as an answer: the best sentence that ``answers_question`` (and the next best from
    the same source when it scores within ``close`` of it), each with ``[n]``; said in the question's
    language when quoted in another. None when no sentence is strong enough."""
    strong = [e for e in evidence if answers_question(e, question)]
    if not strong:
        return None
    best = strong[0]
    chosen = [best] + [e for e in strong[1:2] if e.n == best.n and e.score >= close * best.score]
    chosen.sort(key=lambda e: e.start)
    text = " ".join(cite(e.text, e.n) for e in chosen)
    if has_hangul(best.text) != has_hangul(question):
        text = IN_ANOTHER_LANGUAGE["ko" if has_hangul(question) else "en"] + " " + text
    return text


def run_together(answer: str, row: Sequence[tuple[str, str]]) -> bool:
    """Whether ``answer`` copies a table row flat: three or more of its values, at least 60 % of
    them, and none under its header ("header: value")."""
    values = [v for _, v in row if v]
    present = [v for v in values if v in answer]
    labelled = any(f"{h}:" in answer or f"{h} :" in answer for h, _ in row if h)
    return len(present) >= 3 and len(present) >= 0.6 * len(values) and not labelled


def across_languages(question: str, evidence: Sequence[Evidence]) -> bool:
    """Whether the best evidence is in another script than the question (Hangul or not)."""
    return bool(evidence) and has_hangul(evidence[0].text) != has_hangul(question)
