"""What a generated answer becomes before it is returned: grounded in the sources, or replaced.

1. Sentences that echo the prompt's instructions or the question are dropped.
2. ``[n]`` markers that point at a source are kept (``citation_method = "model"``); an answer that
   is nothing but markers ("[2]") is quoted from the sources it points at ("extractive").
3. An answer without markers that says the sources do not hold the answer stays as it is ("none").
4. Otherwise each sentence is attributed to the source covering its keywords ("inferred").
5. An answer still without support becomes the extractive floor: the best source sentences,
   cited ("extractive"), or the refusal when no sentence answers the question.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from foldrag.core.types import Hit
from foldrag.generation.attribution import infer_citations
from foldrag.generation.citations import Citation, clean_citations, without_markers
from foldrag.core.tokenize import has_hangul
from foldrag.generation.extractive import Scorer, not_in_sources, quote_answer
from foldrag.generation.guards import is_refusal, strip_echo
from foldrag.generation.support import with_support


@dataclass(frozen=True)
class Grounded:
    text: str
    citations: tuple[Citation, ...]
    method: str  # model | inferred | extractive | none
    echoed: int = 0  # instruction sentences removed from the model's text


@dataclass(frozen=True)
class Grounding:
    """The policy, with what it needs: the keyword tokenizer, and the settings that switch parts off."""

    tokenize: Callable[[str], list[str]]
    infer: bool = True  # generation.infer_citations
    fallback: bool = True  # generation.extractive_fallback
    scorer: Scorer | None = None  # the cross-encoder, when configured

    def supported(self, grounded: Grounded, sources: Sequence[Hit]) -> Grounded:
        """``grounded`` with each citation's supporting sentence (``generation.support``)."""
        return dataclasses.replace(grounded, citations=with_support(grounded.text, grounded.citations, sources,
                                                                    self.tokenize))

    def quote(self, question: str, sources: Sequence[Hit], numbered: Sequence[Citation],
              prefer: frozenset[int] = frozenset()) -> Grounded:
        text, citations = clean_citations(quote_answer(question, sources, self.tokenize, scorer=self.scorer,
                                                       prefer=prefer), list(numbered))
        return Grounded(text, tuple(citations), "extractive" if citations else "none")

    def ground(self, answer: str, question: str, instructions: str, sources: Sequence[Hit],
               numbered: Sequence[Citation]) -> Grounded:
        text, echoed = strip_echo(answer, instructions, question)
        text, citations = clean_citations(text, list(numbered))
        if citations and self.fallback and not any(ch.isalnum() for ch in without_markers(text)):
            quoted = self.quote(question, sources, numbered, prefer=frozenset(c.n for c in citations))
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
            quoted = self.quote(question, sources, numbered)
            return Grounded(quoted.text, quoted.citations, quoted.method if quoted.citations else "none", echoed)
        return Grounded(text, (), "none", echoed)
