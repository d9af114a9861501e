"""Citations for answers that carry none: each sentence is attributed to the source it overlaps most.

Small local models (the bundled 135M one among them) often answer from the sources without
writing [n] markers. Rather than return an answer that cites nothing, foldrag can attribute each
answer sentence to the source whose keywords cover most of the sentence's keywords, and says so
in the answer (``citation_method: "inferred"``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from foldrag.core.tokenize import has_hangul
from foldrag.core.types import Hit
from foldrag.generation.citations import cite

_SENTENCE = re.compile(r"[^.!?。\n]+(?:[.!?。]+|$)", re.MULTILINE)


def infer_citations(answer: str, sources: list[Hit], tokenize: Callable[[str], list[str]],
                    min_overlap: float = 0.6, question: str = "") -> str:
    """``answer`` with ``[n]`` appended to each sentence that is mostly covered by source n.

    Support is required, and only the sentence's own words count — those not in ``question``: at
    least ``min_overlap`` of them in the source, and two unless there is only one. A sentence that
    only restates the question, or that no source supports, gets no marker.
    """
    if not sources:
        return answer
    asked = set(tokenize(question)) if question else set()
    source_tokens = [set(tokenize(h.chunk.text)) for h in sources]
    # A Korean sentence over an English source can share only its names, numbers and formulas:
    # where no source covers the sentence, those are what is weighed against sources without Hangul.
    latin_only = [set() if any(map(has_hangul, tokens)) else tokens for tokens in source_tokens]
    out: list[str] = []
    last = 0
    for match in _SENTENCE.finditer(answer):
        sentence = match.group(0)
        words = set(tokenize(sentence)) - asked
        best = _best_source(words, source_tokens, min_overlap)
        if best is None and any(map(has_hangul, words)):
            best = _best_source({w for w in words if not has_hangul(w)}, latin_only, min_overlap, least=2)
        if best is None:
            continue
        out.append(answer[last:match.start()] + cite(sentence, best + 1))
        last = match.end()
    out.append(answer[last:])
    return "".join(out)


def _best_source(words: set[str], source_tokens: list[set[str]], min_overlap: float, least: int = 1) -> int | None:
    """The source covering most of ``words`` — at least ``min_overlap`` of them, and two unless
    there is only one (``least``: never fewer than that many) — or None."""
    if len(words) < least:
        return None
    overlaps = [len(words & s) / len(words) for s in source_tokens]
    best = max(range(len(source_tokens)), key=lambda i: overlaps[i])
    if overlaps[best] < min_overlap or len(words & source_tokens[best]) < max(least, min(2, len(words))):
        return None
    return best
