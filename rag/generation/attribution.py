"""Citations for answers that carry none: each sentence is attributed to the source it overlaps most.

Small local models (the bundled 135M one among them) often answer from the sources without
writing [n] markers. Rather than return an answer that cites nothing, foldrag can attribute each
answer sentence to the source whose keywords cover most of the sentence's keywords, and says so
in the answer (``citation_method: "inferred"``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

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
    out: list[str] = []
    last = 0
    for match in _SENTENCE.finditer(answer):
        sentence = match.group(0)
        words = set(tokenize(sentence)) - asked
        if not words:
            continue
        overlaps = [len(words & s) / len(words) for s in source_tokens]
        best = max(range(len(sources)), key=lambda i: overlaps[i])
        shared = len(words & source_tokens[best])
        if overlaps[best] < min_overlap or shared < min(2, len(words)):
            continue
        out.append(answer[last:match.start()] + cite(sentence, best + 1))
        last = match.end()
    out.append(answer[last:])
    return "".join(out)
