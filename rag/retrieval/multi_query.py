"""Multi-query: one generation call writes N alternative phrasings of a question."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

from foldrag.core.contracts import Generator, complete
from foldrag.core.tokenize import has_hangul

REWRITE_PROMPT = """You help a search engine. Write {n} different search queries for the question below.
Each query must keep the question's meaning and language, use other words or a more specific phrasing,
and stand alone. Write one query per line, with no numbering and no other text.

Question: {question}"""
KOREAN = "\nThe question is in Korean: write every query in Korean (한국어로)."

_MARKER = re.compile(
    r"^\s*(?:[-*•·]+|\(?\d+[.):\]]|\(?[a-zA-Z][.)]|Q\d*[:.)]|(?:search\s+)?(?:query|question)\s*\d*\s*[:.)-]|질문\s*\d*\s*[:.)])\s*",
    re.IGNORECASE,
)
_NOISE = re.compile(r"^(?:here (?:are|is)|sure|queries|alternative|다음은|질문)\b.*[:：]\s*$", re.IGNORECASE)


def _norm(text: str) -> str:
    return re.sub(r"\W+", " ", text).strip().lower()


def parse_rewrites(output: str, question: str, n: int) -> list[str]:
    """The usable rewrites in ``output``: markers stripped, preambles, echoes and duplicates dropped."""
    seen = {_norm(question)}
    rewrites: list[str] = []
    for line in (output or "").splitlines():
        line = line.strip()
        while True:  # "1. - query" has two markers
            stripped = _MARKER.sub("", line, count=1).strip()
            if stripped == line:
                break
            line = stripped
        line = line.strip().strip('"“”\'`').strip()
        if len(line) < 3 or _NOISE.match(line) or line.endswith(":"):
            continue
        key = _norm(line)
        if not key or key in seen:
            continue
        seen.add(key)
        rewrites.append(line)
        if len(rewrites) == n:
            break
    return rewrites


@dataclass(frozen=True)
class Rewrites:
    queries: tuple[str, ...]  # the original question first
    note: str = ""  # why fewer rewrites than asked, for the trace


class QueryRewriter:
    """Rewrites a question with a generator; results are cached per (question, n)."""

    def __init__(self, generator: Generator, n: int = 3, cache_size: int = 1024, max_tokens: int | None = None) -> None:
        if n < 1:
            raise ValueError("n must be >= 1")
        self._generator = generator
        self.n = n
        self._cache: OrderedDict[tuple[str, int], Rewrites] = OrderedDict()
        self._cache_size = cache_size
        # About 24 tokens a line is plenty; a small model that rambles is cut off early.
        self._max_tokens = max_tokens or 24 * n + 16
        self._lock = threading.Lock()

    def __call__(self, question: str) -> Rewrites:
        key = (question.strip(), self.n)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        prompt = REWRITE_PROMPT.format(n=self.n, question=question.strip()) + (KOREAN if has_hangul(question) else "")
        output = complete(self._generator, [{"role": "user", "content": prompt}],
                          max_tokens=self._max_tokens, temperature=0.0)
        found = parse_rewrites(output, question, self.n)
        note = "" if found else "the generator returned no usable rewrite; the original question alone was used"
        result = Rewrites(queries=(question.strip(), *found), note=note)
        with self._lock:
            self._cache[key] = result
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return result
