from __future__ import annotations

from tests.server_support import shared_tokenizer

import dataclasses

import pytest

from foldrag.build import build_rag
from foldrag.core.errors import InvalidInput
from foldrag.generation.citations import clean_citations, source_citation
from foldrag.generation.presets import PRESETS, apply_preset, detect_preset
from foldrag.generation.prompting import build_messages, pack_context
from foldrag.core.types import Chunk, Hit
from tests.fakes import ScriptedChat


def _hit(n, text="text", source=None, page=None):
    return Hit(Chunk(id=f"c{n}", source=source or f"doc{n}.md", text=text, page=page), 1.0 / n)


def _numbered(*hits):
    return [source_citation(n, hit) for n, hit in enumerate(hits, start=1)]


def test_citations_out_of_range_are_dropped_and_order_kept():
    sources = _numbered(_hit(1), _hit(2, page=3))
    text, cites = clean_citations("Paris [2]. Also [7] and [1, 9]. Again [2].", sources)
    assert text == "Paris [2]. Also and [1]. Again [2]."
    assert [(c.n, c.chunk_id, c.page) for c in cites] == [(2, "c2", 3), (1, "c1", None)]


def test_no_markers_no_citations_and_trailing_broken_char():
    text, cites = clean_citations("I don't know\ufffd", _numbered(_hit(1)))
    assert (text, cites) == ("I don't know", [])


def _count(messages):
    return sum(len(m["content"].split()) for m in messages)


def _words(text):
    return len(text.split())


def test_packing_fills_to_the_budget_best_first_and_skips_what_does_not_fit():
    hits = [_hit(1, "a " * 30), _hit(2, "b " * 200), _hit(3, "c " * 20)]
    base = _count(build_messages("q?", []))
    budget = base + 30 + 20 + 12
    chosen = list(pack_context("q?", hits, _count, _words, budget).sources)
    assert [h.chunk.id for h in chosen] == ["c1", "c3"]
    assert _count(build_messages("q?", chosen)) <= budget


def test_packing_at_the_exact_edge():
    hits = [_hit(1, "a " * 10)]
    exact = _count(build_messages("q?", hits))
    assert list(pack_context("q?", hits, _count, _words, exact).sources) == hits
    assert list(pack_context("q?", hits, _count, _words, exact - 1).sources) == []


def test_packing_never_cuts_the_question_but_drops_old_history():
    history = [{"role": "user", "content": "old " * 50}, {"role": "assistant", "content": "reply"}]
    need = _count(build_messages("q?", [], history[1:]))
    kept = list(pack_context("q?", [], _count, _words, need, history).history)
    assert kept == history[1:]
    with pytest.raises(InvalidInput, match="question alone"):
        pack_context("word " * 500, [], _count, _words, 100)


def test_presets():
    assert detect_preset("x/DeepSeek-R1-Distill-Qwen-7B", None).name == "deepseek-r1"
    assert detect_preset("llama", "<|start_header_id|>user").name == "llama3"
    assert detect_preset("smol", "<|im_start|>").name == "chatml"
    folded = apply_preset([{"role": "system", "content": "RULES"}, {"role": "user", "content": "Q"}], PRESETS["deepseek-r1"])
    assert folded == [{"role": "user", "content": "RULES\n\nQ"}]
    assert PRESETS["deepseek-r1"].temperature == 0.6 and PRESETS["deepseek-r1"].top_p == 0.95


@pytest.fixture
def rag_with(tmp_path, settings, fake_embedder):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "paris.md").write_text("# France\n\nThe capital of France is Paris.")
    (docs / "seoul.md").write_text("# 한국\n\n한국의 수도는 서울입니다.")

    def make(generator):
        settings_ = settings.model_copy(update={"retrieval": settings.retrieval.model_copy(update={"mode": "hybrid"})})
        rag = build_rag(settings_, embedder=fake_embedder, generator=generator, tokenizer=shared_tokenizer())
        rag.ingest(docs)
        return rag

    return make


def test_answer_events_order_and_citations(rag_with):
    gen = ScriptedChat("Paris is the capital [1]. [5]")
    rag = rag_with(gen)
    events = list(rag.stream("capital of France"))
    kinds = [e.kind for e in events]
    assert kinds[:6] == ["status", "queries", "evidence", "sources", "status", "token"] and kinds[-1] == "done"
    assert [e.stage for e in events if e.kind == "status"] == ["retrieving", "generating"]
    assert set(kinds[5:-1]) == {"token"}
    answer = events[-1].answer
    evidence, sources = events[2], events[3]
    # the supporting sentence comes before the model writes, numbered as its source
    assert evidence.evidence[0].text == "The capital of France is Paris."
    assert evidence.evidence[0].n == 1 and answer.evidence == evidence.evidence
    assert answer.answer == "Paris is the capital [1]."
    assert [(c.n, c.source) for c in answer.citations] == [(1, sources.hits[0].chunk.source)]
    assert sources.hits[0].chunk.source == "paris.md"
    # built once, with the sources; the answer adds the sentence of the chunk that supports it
    assert dataclasses.replace(answer.citations[0], support=None) == sources.citations[0]
    cited = sources.hits[0].chunk.text
    a, b = answer.citations[0].support
    assert "capital" in cited[a:b] and b - a < len(cited)
    assert {"retrieve_s", "first_token_s", "generate_s", "tokens_per_s"} <= set(answer.timings)
    prompt = gen.calls[0][-1]["content"]
    assert "[1] (paris.md) France\nThe capital of France is Paris." in prompt
    assert prompt.endswith("Question: capital of France")


def test_korean_question_asks_for_a_korean_answer(rag_with):
    gen = ScriptedChat("서울입니다 [1].")
    rag_with(gen).ask("한국의 수도는?")
    assert "한국어로 답하세요" in gen.calls[0][0]["content"]


def test_reasoning_is_separated_and_never_cited(rag_with):
    gen = ScriptedChat("thinking about [1] and [2]</think>The answer is Paris [1].", preset=PRESETS["deepseek-r1"])
    answer = rag_with(gen).ask("capital of France")
    assert answer.reasoning == "thinking about [1] and [2]"
    assert answer.answer == "The answer is Paris [1]."
    assert [c.n for c in answer.citations] == [1]


def test_follow_up_is_condensed_before_retrieval(rag_with):
    gen = ScriptedChat("What is the capital of France?", "Paris [1].")
    history = [{"role": "user", "content": "Tell me about France"}, {"role": "assistant", "content": "A country."}]
    answer = rag_with(gen).ask("and its capital?", history=history)
    assert answer.standalone_question == "What is the capital of France?"
    assert answer.queries[0] == "What is the capital of France?"
    assert "Tell me about France" in gen.calls[0][0]["content"]
    assert [m["content"] for m in gen.calls[1][1:3]] == ["Tell me about France", "A country."]


def test_consumer_going_away_closes_the_generation(rag_with):
    gen = ScriptedChat("word " * 200, piece=5)
    stream = rag_with(gen).stream("capital of France")
    for event in stream:
        if event.kind == "token":
            break
    stream.close()
    assert gen.closed == 1 and gen.yielded < 10


def test_inferred_citations_when_the_model_writes_none(rag_with):
    gen = ScriptedChat("The capital of France is Paris. I like trains.")
    answer = rag_with(gen).ask("capital of France")
    assert answer.citation_method == "inferred"
    assert answer.answer == "The capital of France is Paris [1]. I like trains."
    assert [c.source for c in answer.citations] == ["paris.md"]


def test_model_citations_are_kept_as_written(rag_with):
    answer = rag_with(ScriptedChat("Paris [1].")).ask("capital of France")
    assert answer.citation_method == "model"


def test_packing_renders_the_prompt_twice_however_many_sources():
    renders = []

    def counting(messages):
        renders.append(1)
        return _count(messages)

    hits = [_hit(i, "w " * 5) for i in range(1, 31)]
    chosen = list(pack_context("q?", hits, counting, _words, 10_000).sources)
    assert len(chosen) == 30 and len(renders) == 2


def test_answer_stats_come_from_the_call_not_the_generator(rag_with):
    """Per-call stats travel with the stream: two answers in flight keep their own figures."""
    gen = ScriptedChat("Paris [1].", "The capital is Paris, on the Seine [1].", piece=1)
    rag = rag_with(gen)
    first = rag.stream("capital of France")
    second = rag.stream("capital of France")
    events_first = [next(first) for _ in range(6)]  # status, queries, evidence, sources, status, a token: it runs
    answer_second = [e for e in second if e.kind == "done"][0].answer
    answer_first = [e for e in first if e.kind == "done"][0].answer
    assert events_first[5].kind == "token"
    assert (answer_first.completion_tokens, answer_second.completion_tokens) == (len("Paris [1]."),
                                                                                 len("The capital is Paris, on the Seine [1]."))
    assert answer_first.engine == "scripted"


def test_condensing_keeps_the_latest_turns_within_a_token_budget():
    from foldrag.generation.prompting import condense_messages

    history = [{"role": "user", "content": f"old{n} " * 10_000} for n in range(5)]
    history.append({"role": "assistant", "content": "Paris is the capital."})
    prompt = condense_messages("And its river?", history, budget=300)[0]["content"]
    words = len(prompt.split())
    assert words < 300 + 60, words  # the template and the question on top of the budget
    assert "Paris is the capital." in prompt and "old4" in prompt and "old0" not in prompt
    assert prompt.rstrip().endswith("Last question: And its river?")


def test_a_model_without_a_chat_template_gets_plain_text():
    from foldrag.generation.presets import render_plain

    text = render_plain([{"role": "system", "content": "Use the sources."},
                         {"role": "user", "content": "Sources:\n[1] x\n\nQuestion: q?"}])
    assert text == "Use the sources.\n\nUser: Sources:\n[1] x\n\nQuestion: q?\n\nAnswer:"
    assert detect_preset("gemma-3-270m.gguf", None).name == "plain"
    assert "\nQuestion:" in PRESETS["plain"].stop  # a base model that goes on to ask itself is stopped


def test_every_answer_carries_the_trace_of_its_stages(rag_with):
    gen = ScriptedChat("Paris [1].", "What is the capital of France?", "Paris [1].")
    rag = rag_with(gen)
    plain = rag.ask("capital of France")
    assert [s.name for s in plain.stages] == ["retrieve", "evidence", "pack", "generate", "ground"]
    assert all(s.seconds >= 0 for s in plain.stages) and plain.to_json()["stages"][0]["stage"] == "retrieve"
    history = [{"role": "user", "content": "Tell me about France"}, {"role": "assistant", "content": "A country."}]
    follow_up = rag.ask("and its capital?", history=history)
    assert [s.name for s in follow_up.stages] == ["condense", "retrieve", "evidence", "pack", "generate", "ground"]
    assert follow_up.timings["condense_s"] == follow_up.stages[0].seconds


def test_quoted_answers_walk_retrieve_then_quote(tmp_path, settings, fake_embedder):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "paris.md").write_text("# France\n\nThe capital of France is Paris.")
    quoting = settings.model_copy(update={"generation": settings.generation.model_copy(update={"mode": "quote"})})
    rag = build_rag(quoting, embedder=fake_embedder, tokenizer=shared_tokenizer())
    rag.ingest(docs)
    answer = rag.ask("What is the capital of France?")
    assert [s.name for s in answer.stages] == ["retrieve", "evidence", "quote"] and answer.engine == "extractive"


def test_the_pack_stage_returns_the_prompt_the_model_reads(rag_with):
    from foldrag.answering import stages
    from foldrag.generation.evidence import holding
    from foldrag.generation.prompting import focused

    gen = ScriptedChat("Paris [1].")
    rag = rag_with(gen)
    question = rag.prepare("capital of France")
    retrieval = stages.retrieve(question, question.text)
    found = stages.evidence(question, question.text, retrieval.hits, rag.settings.generation, rag.tokenizer)
    packed = stages.pack(gen, question, holding(retrieval.hits, found), rag.settings.generation, focused(found))
    assert packed.prompt_tokens == gen.prompt_tokens(list(packed.messages))
    rag.answerer().ask(question)
    assert gen.calls[0] == list(packed.messages)  # what was measured is what was sent, rendered once more nowhere
    assert packed.instructions == packed.messages[0]["content"]


def test_a_prepared_question_answers_from_its_own_snapshot(rag_with, tmp_path):
    """Nothing after prepare goes back to the service: a generation committed meanwhile is the next
    question's, not this one's."""
    gen = ScriptedChat("Paris [1].", "Paris [1].")
    rag = rag_with(gen)
    question = rag.prepare("capital of France")
    more = tmp_path / "more"
    more.mkdir()
    (more / "lyon.md").write_text("# Lyon\n\nLyon is a city of France, not its capital.")
    rag.ingest(more)  # a new generation (the first folder's files are gone from it)
    answer = rag.answerer().ask(question)
    assert {c.source for c in answer.citations} <= {"paris.md", "seoul.md"}
    assert rag.prepare("capital of France").snapshot is not question.snapshot


def test_a_question_is_checked_once_in_prepare(rag_with):
    rag = rag_with(ScriptedChat("Paris [1]."))
    question = rag.prepare("  capital of France  ", mode="auto")
    assert (question.text, question.mode, question.k) == ("capital of France", "hybrid", rag.settings.retrieval.k)
    for text, mode, message in (("   ", None, "empty"), ("x", "nope", "unknown mode")):
        with pytest.raises(InvalidInput, match=message):
            rag.prepare(text, mode=mode)
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        question.text = "changed"


def test_a_follow_ups_evidence_comes_after_the_condensing_call_and_before_the_answer(rag_with):
    gen = ScriptedChat("What is the capital of France?", "Paris [1].")
    history = [{"role": "user", "content": "Tell me about France"}, {"role": "assistant", "content": "A country."}]
    stream = rag_with(gen).stream("and its capital?", history=history)
    kinds = []
    for event in stream:
        kinds.append(event.kind)
        if event.kind == "evidence":
            assert len(gen.calls) == 1, "the condensing call ran, the answering one not yet"
            assert event.evidence[0].text == "The capital of France is Paris."  # found for the standalone question
    assert kinds[:6] == ["status", "status", "queries", "evidence", "sources", "status"] and len(gen.calls) == 2


def test_evidence_in_another_language_than_the_question_gives_the_model_whole_chunks(rag_with):
    """Across languages the evidence is found by meaning alone and often misses: the model reads the
    whole chunks instead (the evidence is still sent first)."""
    gen = ScriptedChat("파리입니다 [1].")
    answer = rag_with(gen).ask("France의 capital은 어디인가요?")
    assert answer.evidence[0].text == "The capital of France is Paris."
    prompt = gen.calls[0][-1]["content"]
    assert "[1] (paris.md)\n# France\n\nThe capital of France is Paris." in prompt
    same = ScriptedChat("Paris [1].")
    rag_with(same).ask("capital of France")
    assert "[1] (paris.md) France\nThe capital of France is Paris." in same.calls[0][-1]["content"]
