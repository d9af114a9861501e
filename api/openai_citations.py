"""Citations in OpenAI-shaped answers, the way Perplexity's API carries them: a top-level
``citations`` list of strings where ``[k]`` in the text is the k-th entry.

The prompt numbers its sources per chunk, and several chunks often come from one file; clients want
one entry per file. So the markers are renumbered: ``[k]`` is the k-th distinct source the answer
cites, in order of first mention; markers that point at no source are dropped. Works on a stream:
a marker cut between two pieces ("[" then "2]") is held back until it is whole.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from foldrag.generation.citations import MARKER, Citation
_PARTIAL = re.compile(r"\[[\d,\s]{0,12}$")


class Renumbering:
    def __init__(self, sources: Sequence[Citation]) -> None:
        self._label = {c.n: c.label for c in sources}
        self.labels: list[str] = []  # the ``citations`` list
        self.mentioned: set[int] = set()  # prompt source numbers the text cites
        self._pending = ""

    def _map(self, match: re.Match) -> str:
        out: list[int] = []
        for n in (int(x) for x in re.split(r"\s*,\s*", match.group(1))):
            label = self._label.get(n)
            if label is None:
                continue
            self.mentioned.add(n)
            if label not in self.labels:
                self.labels.append(label)
            k = self.labels.index(label) + 1
            if k not in out:
                out.append(k)
        return "".join(f"[{k}]" for k in out)

    def feed(self, text: str) -> str:
        """``text`` renumbered, less a trailing piece that may be the start of a marker."""
        text = self._pending + text
        partial = _PARTIAL.search(text)
        self._pending = text[partial.start():] if partial else ""
        return MARKER.sub(self._map, text[:partial.start()] if partial else text)

    def flush(self) -> str:
        rest, self._pending = self._pending, ""
        return MARKER.sub(self._map, rest)

    def number_of(self, source: Citation) -> int | None:
        """The ``[k]`` a prompt source became, when the text cites it."""
        return self.labels.index(source.label) + 1 if source.n in self.mentioned else None
