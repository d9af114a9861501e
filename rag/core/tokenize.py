"""Keyword tokenization by script, for BM25.

Korean goes through the Kiwi morphological analyzer and keeps content morphemes only, so
"RAG를" and "RAG는" both give "rag": nouns, verb and adjective stems, roots, numbers, Hanja and
foreign words stay; particles, endings and suffixes go. Latin text is lower-cased, stop words are
dropped and words are Snowball-stemmed. Text without Hangul never loads Kiwi.

Example::

    tok = KeywordTokenizer()
    tok("RAG는 검색 증강 생성입니다")  # ['rag', '검색', '증강', '생성']
"""

from __future__ import annotations

import re
import threading

TOKENIZER_ID = "kiwi-content+snowball-en/v3"  # recorded in the manifest; change it when output changes
# Keyword indexes made by these are searched as they are and re-tokenized at their next ingest. v2
# differed only in keeping Kiwi's multi-word names whole ("더글러스 맥아더"): its chunks' stored
# tokens held them as words already, as v3 gives them; its passages held them whole, so until then
# such a name scores on chunks alone (KorQuAD dev, BM25 nDCG@10: v2 0.9577, v3 0.9618).
SEARCHES_INDEXES_OF = frozenset({TOKENIZER_ID, "kiwi-content+snowball-en/v2"})

_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_LATIN_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Content morphemes: general/proper/bound nouns, pronouns, numerals, noun suffixes (e.g. 들, 성, 화),
# verb and adjective stems, roots, adverbs, foreign words, numbers, Hanja. Measured on KorQuAD dev
# (docs/BENCHMARKS.md): adding NNB, NP and XSN to the bare content set raised chunk-level nDCG@10.
_KEEP_TAGS = frozenset({"NNG", "NNP", "NNB", "NP", "NR", "XSN", "VV", "VA", "XR", "MAG", "SL", "SN", "SH", "W_HASHTAG"})

_STOP_EN = frozenset(
    "a an and are as at be but by for from has have he her his i in into is it its of on or our she "
    "so that the their them then there these they this to was we were what when where which who why "
    "will with you your do does did how can could would should".split()
)


class KeywordTokenizer:
    """Callable: text → list of normalised keyword tokens. Thread-safe."""

    id = TOKENIZER_ID
    searches = SEARCHES_INDEXES_OF

    def __init__(self) -> None:
        self._kiwi = None
        self._lock = threading.Lock()
        import Stemmer

        self._stemmer = Stemmer.Stemmer("english")
        self._stem_lock = threading.Lock()

    def __reduce__(self):
        # Sent to another process (a Ray worker) as "make a new one there": it holds locks and Kiwi.
        return (type(self), ())

    def _latin(self, words: list[str]) -> list[str]:
        kept = [w.lower() for w in words]
        kept = [w for w in kept if w not in _STOP_EN]
        with self._stem_lock:
            return self._stemmer.stemWords(kept)

    def _korean(self, text: str) -> list[str]:
        with self._lock:
            if self._kiwi is None:
                from kiwipiepy import Kiwi

                # Without Kiwi's multi-word dictionary: it made one token of a name such as "더글러스
                # 맥아더", space inside, which the index (tokens stored space-joined) held as two
                # words and a question kept whole, matching nothing. It also halves Kiwi's load.
                self._kiwi = Kiwi(num_workers=-1, load_multi_dict=False)
            tokens = self._kiwi.tokenize(text)
        out: list[str] = []
        foreign: list[str] = []
        for token in tokens:
            if token.tag not in _KEEP_TAGS:
                continue
            if token.tag == "SL":
                foreign.append(token.form)
                continue
            if foreign:
                out.extend(self._latin(foreign))
                foreign = []
            out.extend(token.form.lower().split())  # no token holds a space: the index stores them space-joined
        if foreign:
            out.extend(self._latin(foreign))
        return out

    def __call__(self, text: str) -> list[str]:
        if _HANGUL.search(text):
            return self._korean(text)
        return self._latin(_LATIN_WORD.findall(text))


def has_hangul(text: str) -> bool:
    return bool(_HANGUL.search(text))


def tokenize_chunks(tokenizer, chunks) -> list[list[str]]:
    """The keyword tokens of each chunk: its title, heading and text (see ``keyword_text``)."""
    return [tokenizer(keyword_text(c.title, c.heading, c.text)) for c in chunks]


def keyword_text(title: str | None, heading: str | None, text: str) -> str:
    """What BM25 indexes for a chunk: its document title and heading count as words of it."""
    return " ".join(part for part in (title, heading, text) if part)
