"""The grounded-answer prompt foldrag owns (whole chunks, or focused on the evidence), context packing by
tokens, and follow-up condensing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from foldrag.core.errors import InvalidInput
from foldrag.core.tokenize import has_hangul
from foldrag.core.types import Hit
from foldrag.generation.evidence import Evidence, sentences_of, table_header

INSTRUCTIONS = (
    "Answer the question using only the numbered sources. After each fact, cite its source number in "
    "square brackets, like [1] or [2]. If the sources do not contain the answer, say that the documents "
    "do not say. Keep the answer short."
)
KOREAN = " 질문이 한국어이므로 한국어로 답하세요."
ENGLISH = " The question is in English, so answer in English even when the sources are in another language."
# The whole instruction in Korean for a Korean question: models then answer in Korean, and say the
# refusal in Korean (the refusal phrase is the one rag/generation/extractive.py uses).
INSTRUCTIONS_KO = (
    "번호가 붙은 출처만 사용해서 질문에 답하세요. 각 사실 뒤에 [1], [2]처럼 출처 번호를 대괄호로 쓰세요. "
    "출처에 답이 없으면 '문서에는 그 내용이 없습니다.'라고 답하세요. 짧게 답하세요."
)
NO_SOURCES = "(no sources were found)"

CONDENSE = (
    "Rewrite the last question so that it can be understood without the conversation. Keep its language. "
    "Reply with the rewritten question only.\n\nConversation:\n{history}\n\nLast question: {question}"
)


def instructions_for(question: str) -> str:
    """The system prompt; the answer's language follows the question's (Korean, or English when the
    question is written in Latin letters)."""
    if has_hangul(question):
        return INSTRUCTIONS_KO + KOREAN
    letters = [ch for ch in question if ch.isalpha()]
    latin = sum(ch.isascii() for ch in letters)
    return INSTRUCTIONS + (ENGLISH if letters and latin >= 0.8 * len(letters) else "")


# How a source reads in the prompt: its number and hit → the text under "[n]".
Render = Callable[[int, Hit], str]


def format_source(n: int, hit: Hit) -> str:
    """The whole chunk under its number and place (the ``chunks`` prompt)."""
    where = hit.chunk.source + (f", p. {hit.chunk.page}" if hit.chunk.page else "")
    return f"[{n}] ({where})\n{hit.chunk.text.strip()}"


def focused(evidence: Sequence[Evidence], neighbours: int = 1) -> Render:
    """The ``focused`` prompt's source: the chunk's title and heading, then only its evidence
    sentences with ``neighbours`` sentences either side (a table row under its header row), pieces
    that are not adjacent joined by "…". A chunk without evidence reads whole."""
    by_chunk: dict[str, list[Evidence]] = {}
    for e in evidence:
        by_chunk.setdefault(e.chunk_id, []).append(e)

    def render(n: int, hit: Hit) -> str:
        chosen = by_chunk.get(hit.chunk.id)
        if not chosen:
            return format_source(n, hit)
        chunk = hit.chunk
        where = chunk.source + (f", p. {chunk.page_of(chosen[0].start, chosen[0].end)}" if chunk.page else "")
        about = " — ".join(dict.fromkeys(t for t in (chunk.title, chunk.heading) if t))
        sentences = sentences_of(n, hit)
        keep = sorted({j for i, s in enumerate(sentences) for e in chosen if (s.start, s.end) == (e.start, e.end)
                       for j in range(max(0, i - neighbours), min(len(sentences), i + neighbours + 1))})
        lines: list[str] = []
        header_of = None
        for k, j in enumerate(keep):
            s = sentences[j]
            if k and keep[k - 1] != j - 1:
                lines.append("…")
            if s.row:
                header = table_header(chunk.text, s.start)
                if header != header_of:
                    lines.append("| " + " | ".join(header or ()) + " |")
                header_of = header
                lines.append(chunk.text[s.start:s.end].strip())
            else:
                header_of = None
                lines.append(s.text)
        head = f"[{n}] ({where})" + (f" {about}" if about else "")
        return head + "\n" + "\n".join(lines)

    return render


SEPARATOR = "\n\n"


def build_messages(question: str, sources: Sequence[Hit], history: Sequence[dict[str, str]] = (),
                   render: Render = format_source) -> list[dict[str, str]]:
    body = SEPARATOR.join(render(n, h) for n, h in enumerate(sources, start=1)) or NO_SOURCES
    messages = [{"role": "system", "content": instructions_for(question)}]
    messages += [dict(m) for m in history if m.get("role") in ("user", "assistant")]
    messages.append({"role": "user", "content": f"Sources:\n{body}\n\nQuestion: {question}"})
    return messages


@dataclass(frozen=True)
class Packed:
    """What packing chose, and the prompt it measured: ``messages`` is exactly what the model reads
    (``prompt_tokens`` of them), so nothing renders it again."""

    sources: tuple[Hit, ...]
    history: tuple[dict[str, str], ...]
    messages: tuple[dict[str, str], ...]
    prompt_tokens: int

    @property
    def instructions(self) -> str:
        """The system prompt of the packed messages (what grounding must not see echoed)."""
        return self.messages[0]["content"]


def pack_context(
    question: str,
    hits: Sequence[Hit],
    prompt_tokens: Callable[[list[dict[str, str]]], int],
    count_tokens: Callable[[str], int],
    budget: int,
    history: Sequence[dict[str, str]] = (),
    render: Render = format_source,
) -> Packed:
    """Choose the sources (best first) and history turns that fit ``budget`` prompt tokens.

    The instructions and the question are never cut: if they alone exceed the budget, InvalidInput.
    Older history turns go first when space is short; a source that does not fit whole is skipped
    and smaller ones after it may still be taken. The prompt is rendered twice (without sources, and
    once chosen); each source is counted on its own, and the final render corrects for tokens that
    merge across the joins. The final render is returned, with its token count.
    """
    history = list(history)
    while (empty := prompt_tokens(build_messages(question, [], history, render))) > budget:
        if not history:
            raise InvalidInput(f"the question alone is longer than the model's prompt budget ({budget} tokens)")
        history = history[1:]
    used = empty - count_tokens(NO_SOURCES)
    chosen: list[Hit] = []
    for hit in hits:
        text = render(len(chosen) + 1, hit)
        cost = count_tokens(SEPARATOR + text if chosen else text)
        if used + cost <= budget:
            chosen.append(hit)
            used += cost
    messages = build_messages(question, chosen, history, render)
    tokens = prompt_tokens(messages) if chosen else empty
    while chosen and tokens > budget:
        chosen.pop()
        messages = build_messages(question, chosen, history, render)
        tokens = prompt_tokens(messages) if chosen else empty
    return Packed(tuple(chosen), tuple(history), tuple(messages), tokens)


def condense_messages(question: str, history: Sequence[dict[str, str]], max_turns: int = 6, *,
                      count_tokens: Callable[[str], int] | None = None, budget: int = 768) -> list[dict[str, str]]:
    """The prompt that rewrites a follow-up as a standalone question: the latest turns (at most
    ``max_turns``) that fit ``budget`` tokens; a turn too long for what is left is cut from its start
    (its end is nearest the question), and older turns go first."""
    count = count_tokens or (lambda text: len(text.split()))
    lines: list[str] = []
    left = budget
    for m in reversed([m for m in history if m.get("role") in ("user", "assistant")][-max_turns:]):
        line = f"{m['role']}: {m['content']}"
        cost = count(line)
        if cost > left:
            if left >= 16:  # worth keeping the tail of this turn
                keep = max(1, len(line) * left // max(cost, 1) - 1)
                lines.append(f"{m['role']}: …{m['content'][-keep:]}")
            break
        lines.append(line)
        left -= cost
    lines.reverse()
    return [{"role": "user", "content": CONDENSE.format(history="\n".join(lines), question=question)}]
