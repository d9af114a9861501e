"""Checks on what a small model writes: repetition loops, echoed instructions, refusals.

Example::

    guard = LoopGuard()
    for piece in stream:
        if guard.feed(piece):      # the text now ends in a loop
            break
    text = guard.text              # the loop cut to its first occurrence
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

_SPACE_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)
_SENTENCE = re.compile(r"[^\n.!?。]+(?:[.!?。]+|\n|$)")

# Phrases that say the sources do not hold the answer (English and Korean).
_REFUSAL = re.compile(
    r"(do(?:es)? not (?:say|contain|mention|provide|include|specify|state)|doesn't (?:say|mention|contain)"
    r"|not (?:mentioned|stated|specified|provided|found|included|given) in|no information"
    r"|cannot (?:find|answer|be determined)|can't (?:find|answer)|not enough information|is not available"
    r"|(?:내용|정보|언급|답|설명)[이가은는]? ?(?:없|않)|나와 ?있지 ?않|알 ?수 ?없|찾을 ?수 ?없|포함(?:되어|하고) ?있지 ?않"
    r"|언급(?:되어|하고) ?있지 ?않|제공(?:되어|하고) ?있지 ?않)",
    re.IGNORECASE,
)


def is_refusal(text: str) -> bool:
    """Whether ``text`` says the sources do not hold the answer."""
    return bool(_REFUSAL.search(text))


def _squash(text: str) -> str:
    return _SPACE_PUNCT.sub("", unicodedata.normalize("NFC", text)).lower()


def _grams(text: str, n: int = 4) -> set[str]:
    return {text[i:i + n] for i in range(len(text) - n + 1)}


def strip_echo(answer: str, *prompt: str, min_chars: int = 8, copied: float = 0.8) -> tuple[str, int]:
    """``answer`` without the sentences that repeat the prompt (its instructions, the question); and
    how many went.

    A sentence is an echo when, spaces and punctuation aside, it is at least ``min_chars`` long and
    ``copied`` of its 4-character pieces come from the prompt: small models copy "질문이 한국어이므로
    한국어로 답하세요." or the question into answers, whole or stuttering ("한국어이므로 한국어이므로").
    A refusal stays, though the instructions word it too.
    """
    said = _grams("\n".join(_squash(part) for part in prompt))
    kept, dropped = [], 0
    for match in _SENTENCE.finditer(answer):
        sentence = match.group(0)
        body = _squash(sentence)
        grams = _grams(body)
        if (len(body) >= min_chars and len(grams & said) >= copied * len(grams)
                and not is_refusal(sentence)):
            dropped += 1
            continue
        kept.append(sentence)
    if not dropped:
        return answer, 0
    return re.sub(r"[ \t]{2,}", " ", "".join(kept)).strip(), dropped


_DIGITS = str.maketrans("123456789", "000000000")


class LoopGuard:
    """Collects streamed text and says when it ends in a loop: a piece of ``min_period``..``max_period``
    characters repeated ``repeats`` times in a row at the end, spanning at least ``min_span``
    characters, digits aside (a numbered list of one line repeated is a loop too). ``text`` is then
    cut after the piece's first occurrence."""

    def __init__(self, min_period: int = 4, max_period: int = 240, repeats: int = 3, min_span: int = 36) -> None:
        self.min_period, self.max_period, self.repeats, self.min_span = min_period, max_period, repeats, min_span
        self._text = ""
        self._cut: int | None = None

    @property
    def text(self) -> str:
        return self._text if self._cut is None else self._text[:self._cut]

    @property
    def looped(self) -> bool:
        return self._cut is not None

    def feed(self, piece: str) -> bool:
        if self._cut is not None:
            return True
        self._text += piece
        text = self._text.translate(_DIGITS)  # same length: indices stay those of the text
        for period in range(self.min_period, min(self.max_period, len(text) // self.repeats) + 1):
            if period * self.repeats < self.min_span:
                continue
            unit = text[-period:]
            if text.endswith(unit * self.repeats) and unit.strip():
                self._cut = len(text) - period * (self.repeats - 1)
                return True
        return False


_HANGUL = re.compile(r"[\uac00-\ud7a3]")


def in_other_language(answer: str, question: str) -> bool:
    """Whether ``answer`` is plainly in another language than ``question``: a Korean question answered
    without a Hangul letter, or a question in Latin letters answered mostly in Hangul. An answer of
    at most three words ("Forbes", "449 W", "1.5B, 7B") is a name or a figure, in no language."""
    if sum(any(ch.isalnum() for ch in word) for word in answer.split()) <= 3:
        return False
    letters = [ch for ch in answer if ch.isalpha()]
    if not letters:
        return False
    hangul = sum(bool(_HANGUL.match(ch)) for ch in letters) / len(letters)
    return hangul == 0 if _HANGUL.search(question) else hangul >= 0.5


def restates(answer: str, question: str, tokenize: Callable[[str], list[str]], known: set[str] | None) -> bool:
    """Whether ``answer`` only restates ``question``: at least half its keywords are the question's,
    and none of the rest is a number or a word of the sources (``known``: their keywords) — "RRF는
    순위를 합치는 방법이 있습니다" to "RRF는 순위를 어떻게 합치나요?", where "방법" is in no source.
    ``known`` None (sources in another language, where no word can match): only an answer with no
    word of its own restates."""
    said = set(tokenize(answer))
    asked = set(tokenize(question))
    # a one-letter word ("있", "수") says nothing new unless it is a number
    new = {w for w in said - asked if len(w) > 1 or w.isdigit()}
    if any(ch.isdigit() for word in new for ch in word):
        return False
    informative = new if known is None else new & known
    return bool(said) and not informative and len(said & asked) >= 0.5 * len(said)
