"""The latest turns of conversations, kept so that a follow-up can carry its previous turn verbatim.

A follow-up's history comes back from the client (the web app, the API, an agent) as plain text,
and a prompt built afresh from it — the system prompt, the earlier questions and answers, new
sources — shares only the system prompt with the prompt before it: every turn computes its whole
prompt again. ``Turns`` keeps, for the latest answers, the prompt the model read and the reply it
wrote, under the conversation as the client will send it back. A follow-up whose history matches
one is packed onto it (``prompting.pack_follow_up``): the previous prompt and reply come first,
token for token, and their attention caches are taken instead of computed (foldrag's prefix
cache, llama.cpp's, a model server's). A history that matches none — another worker's, a server
restarted, an edited turn, an index updated since — is packed afresh, as before.

Messages are compared by their letters and digits, citation markers left out: clients renumber
citations (the OpenAI route) and space the text their own way.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from foldrag.generation.prompting import Packed

TURNS = 64  # conversations' latest turns kept per collection
_CITATION = re.compile(r"\[\d+(?:\s*,\s*\d+)*\]")


@dataclass(frozen=True)
class Carried:
    """A turn as the model saw it: its packed prompt and the reply it wrote."""

    packed: Packed
    reply: str


class Turns:
    """The latest ``size`` turns, least recently used out; safe to share between threads."""

    def __init__(self, size: int = TURNS) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._turns: OrderedDict[str, Carried] = OrderedDict()

    def find(self, generation: int, history: Sequence[dict[str, str]]) -> Carried | None:
        """The turn whose conversation (its history, question and answer) is ``history``, on the
        index generation ``generation``; None when none is kept."""
        if not history:
            return None
        key = _key(generation, history)
        with self._lock:
            carried = self._turns.get(key)
            if carried is not None:
                self._turns.move_to_end(key)
            return carried

    def keep(self, generation: int, history: Sequence[dict[str, str]], question: str, answer: str,
             carried: Carried) -> None:
        """Keep ``carried`` for the follow-up whose history will be ``history`` + ``question`` + ``answer``."""
        key = _key(generation, [*history, {"role": "user", "content": question},
                                {"role": "assistant", "content": answer}])
        with self._lock:
            self._turns[key] = carried
            self._turns.move_to_end(key)
            while len(self._turns) > self.size:
                self._turns.popitem(last=False)


def _key(generation: int, messages: Sequence[dict[str, str]]) -> str:
    letters = [(m.get("role", ""), "".join(ch for ch in _CITATION.sub("", m.get("content", "")).casefold()
                                            if ch.isalnum())) for m in messages]
    return hashlib.sha256(json.dumps([generation, letters], ensure_ascii=False).encode()).hexdigest()
