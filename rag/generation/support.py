"""Which sentence of a cited chunk supports the answer: for each citation, the chunk sentence that
shares the most keywords with the answer's sentences citing it. Chosen from the answer's text and
the chunk's own sentences (stored with their boxes at ingest), so a viewer marks a sentence it
already knows the place of, never a phrase matched against the page."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from foldrag.core.locations import sentence_spans
from foldrag.core.types import Hit
from foldrag.generation.citations import MARKER, Citation, without_markers
from foldrag.generation.evidence import Evidence


def _citing(answer: str) -> dict[int, list[str]]:
    """Source number → the answer's sentences that cite it (markers removed)."""
    out: dict[int, list[str]] = {}
    for a, b in sentence_spans(answer):
        sentence = answer[a:b]
        for match in MARKER.finditer(sentence):
            for number in match.group(1).split(","):
                out.setdefault(int(number), []).append(without_markers(sentence))
    return out


def with_support(answer: str, citations: Sequence[Citation], sources: Sequence[Hit],
                 tokenize: Callable[[str], list[str]], evidence: Sequence[Evidence] = ()) -> tuple[Citation, ...]:
    """``citations`` with ``support`` set where a chunk sentence shares keywords with the answer (else
    to the source's best ``evidence`` sentence), and ``page`` then the page that sentence is on (a
    chunk may start on the page before)."""
    chunks = {hit.chunk.id: hit.chunk for hit in sources}
    best_evidence: dict[int, Evidence] = {}
    for e in evidence:
        best_evidence.setdefault(e.n, e)
    citing = _citing(answer)
    out = []
    for citation in citations:
        chunk = chunks.get(citation.chunk_id)
        wanted = {t for sentence in citing.get(citation.n, ()) for t in tokenize(sentence)}
        best, best_overlap = None, 0
        if chunk is not None and wanted:
            spans = [(s.start, s.end) for s in chunk.spans] or sentence_spans(chunk.text)
            for a, b in spans:
                overlap = len(wanted & set(tokenize(chunk.text[a:b])))
                if overlap > best_overlap:
                    best, best_overlap = (a, b), overlap
        if best is None and chunk is not None and citation.n in best_evidence:
            best = (best_evidence[citation.n].start, best_evidence[citation.n].end)
        out.append(dataclasses.replace(citation, support=best, page=chunk.page_of(*best)) if best else citation)
    return tuple(out)
