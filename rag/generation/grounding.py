"""What a generated answer becomes before it is returned: grounded in the sources, or replaced.

1. Sentences that echo the prompt's instructions or the question are dropped.
2. ``[n]`` markers that point at a source are kept (``citation_method = "model"``); an answer that
   is nothing but markers ("[2]") is quoted from the sources it points at ("extractive").
3. An answer without markers that says the sources do not hold the answer stays as it is ("none").
4. Otherwise each sentence is attributed to the source covering its keywords ("inferred").
5. An answer still without support becomes the evidence (the sentences found before the model
   ran, cited: "evidence"), or without evidence the extractive floor ("extractive"), or the refusal
   when no sentence answers the question.

Then ``checked``: no answer worse than its evidence. An answer that only restates the question,
refuses though the evidence answers it, or is in another language than the question is replaced
by the evidence; one that runs a table row together gets the row as "header: value" pairs
("evidence" either way). Without strong evidence a restatement becomes the refusal, and a refusal
or an answer in another language is kept.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from foldrag.core.types import Hit
from foldrag.generation.attribution import infer_citations
from foldrag.generation.citations import Citation, cite, clean_citations, without_markers
from foldrag.core.tokenize import has_hangul
from foldrag.generation.extractive import Scorer, not_in_sources, quote_answer
from foldrag.generation.evidence import Evidence, quoted, run_together
from foldrag.generation.guards import in_other_language, is_refusal, restates, strip_echo
from foldrag.generation.support import with_support


@dataclass(frozen=True)
class Grounded:
    text: str
    citations: tuple[Citation, ...]
    method: str  # model | inferred | evidence | extractive | none
    echoed: int = 0  # instruction sentences removed from the model's text


@dataclass(frozen=True)
class Grounding:
    """The policy, with what it needs: the keyword tokenizer, and the settings that switch parts off."""

    tokenize: Callable[[str], list[str]]
    infer: bool = True  # generation.infer_citations
    fallback: bool = True  # generation.extractive_fallback
    scorer: Scorer | None = None  # the cross-encoder, when configured

    def supported(self, grounded: Grounded, sources: Sequence[Hit], evidence: Sequence[Evidence] = ()) -> Grounded:
        """``grounded`` with each citation's supporting sentence (``generation.support``): the chunk
        sentence sharing most words with the answer, else the source's best evidence sentence (an
        answer in English over a Korean source shares none)."""
        return dataclasses.replace(grounded, citations=with_support(grounded.text, grounded.citations, sources,
                                                                    self.tokenize, evidence))

    def quote(self, question: str, sources: Sequence[Hit], numbered: Sequence[Citation],
              prefer: frozenset[int] = frozenset(), evidence: Sequence[Evidence] = ()) -> Grounded:
        """The sources quoted: the evidence when there is any (``prefer``: sources to quote from
        first), else the extractive floor."""
        if evidence:
            return self.from_evidence(question, [e for e in evidence if e.n in prefer] or evidence, numbered)
        text, citations = clean_citations(quote_answer(question, sources, self.tokenize, scorer=self.scorer,
                                                       prefer=prefer), list(numbered))
        return Grounded(text, tuple(citations), "extractive" if citations else "none")

    def from_evidence(self, question: str, evidence: Sequence[Evidence], numbered: Sequence[Citation]) -> Grounded:
        """The evidence alone as the answer (``generation.mode`` 'quote', and every replacement), or
        the refusal in the question's language when no sentence answers it."""
        return _evidence_answer(quoted(question, evidence) or not_in_sources(question), numbered)

    def checked(self, grounded: Grounded, question: str, evidence: Sequence[Evidence], sources: Sequence[Hit],
                numbered: Sequence[Citation]) -> Grounded:
        """``grounded`` unless it is worse than its evidence (see the module's notes); ``sources``:
        the chunks the model read."""
        if not evidence or grounded.method in ("evidence", "extractive"):
            return grounded
        quote = quoted(question, evidence)  # None: no sentence is strong enough to answer from
        body = without_markers(grounded.text).strip()
        if grounded.method == "none" and is_refusal(body):
            return grounded if quote is None else _evidence_answer(quote, numbered, grounded.echoed)
        same_script = has_hangul(evidence[0].text) == has_hangul(question)
        known = {w for hit in sources for w in self.tokenize(hit.chunk.text)} if same_script else None
        if restates(body, question, self.tokenize, known):
            return _evidence_answer(quote or not_in_sources(question), numbered, grounded.echoed)
        if quote is not None and in_other_language(body, question):  # without strong evidence: kept
            return _evidence_answer(quote, numbered, grounded.echoed)
        row = next((e for e in evidence if e.row and run_together(body, e.row)), None)
        if row is not None:
            return _evidence_answer(cite(row.text, row.n), numbered, grounded.echoed)
        return grounded

    def ground(self, answer: str, question: str, instructions: str, sources: Sequence[Hit],
               numbered: Sequence[Citation], evidence: Sequence[Evidence] = ()) -> Grounded:
        text, echoed = strip_echo(answer, instructions, question)
        text, citations = clean_citations(text, list(numbered))
        if citations and self.fallback and not any(ch.isalnum() for ch in without_markers(text)):
            quoted = self.quote(question, sources, numbered, prefer=frozenset(c.n for c in citations),
                                evidence=evidence)
            return Grounded(quoted.text, quoted.citations, quoted.method, echoed)
        if citations:
            return Grounded(text, tuple(citations), "model", echoed)
        if text and is_refusal(text):
            if has_hangul(question) != has_hangul(text):  # "The documents do not say." to a Korean question
                text = not_in_sources(question)
            return Grounded(text, (), "none", echoed)
        if text and self.infer and sources:
            attributed = infer_citations(text, list(sources), self.tokenize, question=question)
            inferred, citations = clean_citations(attributed, list(numbered))
            if citations:
                return Grounded(inferred, tuple(citations), "inferred", echoed)
        if self.fallback:
            quoted = self.quote(question, sources, numbered, evidence=evidence)
            return Grounded(quoted.text, quoted.citations, quoted.method if quoted.citations else "none", echoed)
        return Grounded(text, (), "none", echoed)


def _evidence_answer(text: str, numbered: Sequence[Citation], echoed: int = 0) -> Grounded:
    """``text`` (quoted evidence with its markers, or the refusal) as the grounded answer."""
    text, citations = clean_citations(text, list(numbered))
    return Grounded(text, tuple(citations), "evidence" if citations else "none", echoed)
