"""A follow-up carries its previous turn verbatim (answering/carry.py, prompting.pack_follow_up), so the
prompt before the new turn is the previous prompt and reply token for token — and falls back to a
prompt packed afresh whenever that would not be the conversation the client holds."""

from __future__ import annotations

import pytest

from foldrag.answering.carry import Carried, Turns
from foldrag.build import build_rag
from foldrag.core.types import Chunk, Hit
from foldrag.generation.prompting import build_messages, follow_up_messages, pack_context, pack_follow_up
from tests.fakes import ScriptedChat
from tests.server_support import shared_tokenizer


@pytest.fixture
def rag_with(tmp_path, settings, fake_embedder):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "paris.md").write_text("# France\n\nThe capital of France is Paris.")
    (docs / "berlin.md").write_text("# Germany\n\nThe capital of Germany is Berlin.")
    (docs / "seoul.md").write_text("# 한국\n\n한국의 수도는 서울입니다.")

    def make(generator, kv_reuse="carry", **generation):
        generation["kv_reuse"] = kv_reuse
        settings_ = settings.model_copy(update={
            "retrieval": settings.retrieval.model_copy(update={"mode": "hybrid"}),
            "generation": settings.generation.model_copy(update=generation)})
        rag = build_rag(settings_, embedder=fake_embedder, generator=generator, tokenizer=shared_tokenizer())
        rag.ingest(docs)
        return rag, docs

    return make


def _turn(question, answer):
    return [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]


def test_a_follow_up_carries_the_previous_prompt_and_reply_and_numbers_on(rag_with):
    gen = ScriptedChat("Paris is the capital [1].", "What is the capital of Germany?", "Berlin [2], not Paris [1].")
    rag, _ = rag_with(gen)
    first = rag.ask("capital of France", k=1)
    assert [c.source for c in first.citations] == ["paris.md"]
    second = rag.ask("and of Germany?", k=2, history=_turn("capital of France", first.answer))
    turn1, turn2 = gen.calls[0], gen.calls[2]  # calls[1] condensed the follow-up
    assert turn2[:len(turn1)] == turn1, "the previous prompt, message for message"
    assert turn2[len(turn1)] == {"role": "assistant", "content": "Paris is the capital [1]."}
    last = turn2[-1]["content"]
    assert last.startswith("Sources:\n[2] (berlin.md)\n") and last.endswith("Question: and of Germany?")
    assert "paris.md" not in last, "a source already in the prompt is not repeated"
    # [n] means what it meant in the prompt: 1 is the carried source, 2 the new one
    assert [(c.n, c.source) for c in second.citations] == [(2, "berlin.md"), (1, "paris.md")]


def test_the_history_matches_by_its_letters(rag_with):
    gen = ScriptedChat("Paris is the capital [1].", "What is the capital of Germany?", "Berlin [2].")
    rag, _ = rag_with(gen)
    rag.ask("capital of France", k=1)
    # a client that renumbered the citation and spaced the text differently sends the same conversation
    rag.ask("and of Germany?", k=2, history=_turn("capital of France ", "Paris  is the capital [3]. "))
    assert gen.calls[2][:2] == gen.calls[0]


def _not_carried(calls):
    """The last prompt was packed afresh: the system prompt, the history as sent, then the sources."""
    last = calls[-1]
    return len(last) == 4 and last[-1]["content"].startswith("Sources:\n[1] ")


def test_what_is_not_the_clients_conversation_is_packed_afresh(rag_with):
    gen = ScriptedChat("Paris is the capital [1].", "capital of Germany", "Berlin [1].")
    rag, _ = rag_with(gen)
    rag.ask("capital of France", k=1)
    rag.ask("and of Germany?", k=2, history=_turn("capital of France", "Lyon is the capital [1]."))
    assert _not_carried(gen.calls), "an edited answer is another conversation"

    gen = ScriptedChat("Paris is the capital [1].", "독일의 수도는?", "베를린 [1].")
    rag, _ = rag_with(gen)
    rag.ask("capital of France", k=1)
    rag.ask("독일의 수도는?", k=2, history=_turn("capital of France", "Paris is the capital [1]."))
    assert _not_carried(gen.calls), "a Korean follow-up has Korean instructions: another system prompt"


def test_an_index_updated_since_is_not_carried(rag_with):
    gen = ScriptedChat("Paris is the capital [1].", "capital of Germany", "Berlin [1].")
    rag, docs = rag_with(gen)
    first = rag.ask("capital of France", k=1)
    (docs / "rome.md").write_text("# Italy\n\nThe capital of Italy is Rome.")
    rag.ingest(docs)
    rag.ask("and of Germany?", k=2, history=_turn("capital of France", first.answer))
    assert _not_carried(gen.calls), "the carried sources may be gone from the new index"


@pytest.mark.parametrize("setting", ["auto", "off"])
def test_only_carry_and_on_carry_a_turn(rag_with, setting):
    # carrying changes what the model reads: not in the exact 'auto', the default
    gen = ScriptedChat("Paris is the capital [1].", "capital of Germany", "Berlin [1].")
    rag, _ = rag_with(gen, kv_reuse=setting)
    first = rag.ask("capital of France", k=1)
    rag.ask("and of Germany?", k=2, history=_turn("capital of France", first.answer))
    assert _not_carried(gen.calls)
    gen = ScriptedChat("Paris is the capital [1].", "capital of Germany", "Berlin [1].")
    rag, _ = rag_with(gen, kv_reuse="on")
    first = rag.ask("capital of France", k=1)
    rag.ask("and of Germany?", k=2, history=_turn("capital of France", first.answer))
    assert not _not_carried(gen.calls) and gen.calls[2][:2] == gen.calls[0]


def test_a_quoted_fallback_is_not_carried(rag_with):
    # the model's reply is supported by nothing: the client got quoted sentences, not the reply
    gen = ScriptedChat("Bananas are yellow.", "capital of Germany", "Berlin [1].")
    rag, _ = rag_with(gen)
    first = rag.ask("capital of France", k=1)
    assert first.citation_method == "extractive"
    rag.ask("and of Germany?", k=2, history=_turn("capital of France", first.answer))
    assert _not_carried(gen.calls)


# -- packing onto a previous turn (word counts stand for tokens)

def _hit(n, words):
    return Hit(Chunk(id=f"c{n}", source=f"doc{n}.md", text=" ".join(f"w{n}" for _ in range(words))), 1.0 / n)


def _count(messages):
    return sum(len(m["content"].split()) for m in messages)


def _words(text):
    return len(text.split())


def _previous(*hits):
    return pack_context("first question", list(hits), _count, _words, 1000)


def test_a_turn_takes_the_sources_a_fresh_prompt_would_less_those_it_has():
    previous = _previous(_hit(1, 20))
    hits = [_hit(1, 20), _hit(2, 30), _hit(3, 200), _hit(4, 10)]
    base = _count(build_messages("next?", []))
    cost = {n: _words(f"[9] (doc{n}.md)\n" + "w " * w) for n, w in ((1, 20), (2, 30), (4, 10))}
    # a fresh prompt of this budget takes c1, c2 and c4 (c3 is too big): the turn adds c2 and c4
    budget = base - 3 + cost[1] + cost[2] + cost[4] + 2
    assert [h.chunk.id for h in pack_context("next?", hits, _count, _words, budget).sources] == ["c1", "c2", "c4"]
    packed = pack_follow_up("next?", hits, previous, "reply", _count, _words, budget=budget, total=10_000)
    assert [h.chunk.id for h in packed.sources] == ["c1", "c2", "c4"] and packed.carried == 1
    assert packed.prompt_tokens == _count(list(packed.messages))
    last = packed.messages[-1]["content"]
    assert last.startswith("Sources:\n[2] (doc2.md)\n") and "[3] (doc4.md)" in last and "doc1.md" not in last
    # the carried c1 counts against the budget as it would in a fresh prompt: c4 no longer fits
    tight = pack_follow_up("next?", hits, previous, "reply", _count, _words, budget=budget - cost[4], total=10_000)
    assert [h.chunk.id for h in tight.sources] == ["c1", "c2"]
    # the total bounds the whole: no room for the question on top of the carried prompt, not carried
    empty = _count(follow_up_messages(previous.messages, "reply", "next?", [], 2))
    assert pack_follow_up("next?", hits, previous, "reply", _count, _words, budget=budget, total=empty - 1) is None
    alone = pack_follow_up("next?", hits, previous, "reply", _count, _words, budget=budget, total=empty)
    assert alone.sources == previous.sources and alone.messages[-1]["content"] == "Question: next?"


def test_turns_are_bounded_and_keyed_by_generation():
    turns = Turns(size=2)
    packed = _previous(_hit(1, 5))
    for n in range(3):
        turns.keep(7, [], f"question {n}", f"answer {n}", Carried(packed, f"reply {n}"))
    assert turns.find(7, _turn("question 0", "answer 0")) is None, "the oldest went"
    assert turns.find(7, _turn("question 2", "answer 2")).reply == "reply 2"
    assert turns.find(8, _turn("question 2", "answer 2")) is None
    assert turns.find(7, []) is None
