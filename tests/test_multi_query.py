from foldrag.retrieval.multi_query import QueryRewriter, parse_rewrites
from tests.fakes import ScriptedChat


Q = "How does RRF fuse rankings?"


def test_numbering_bullets_blank_lines_and_quotes():
    out = "Here are 3 queries:\n\n1. What is reciprocal rank fusion?\n- \"RRF formula\"\n\n  2) combining ranked lists\n"
    assert parse_rewrites(out, Q, 3) == ["What is reciprocal rank fusion?", "RRF formula", "combining ranked lists"]


def test_duplicates_and_echo_of_the_question_are_dropped():
    out = f"1. {Q}\n2. rrf explained\n3. RRF explained!\n4. how does rrf fuse rankings"
    assert parse_rewrites(out, Q, 3) == ["rrf explained"]


def test_at_most_n():
    assert len(parse_rewrites("a query\nb query\nc query\nd query", Q, 2)) == 2


def test_nothing_usable_gives_the_original_alone_with_a_note():
    rewriter = QueryRewriter(ScriptedChat("\n\n  \n1.\n"), n=3)
    result = rewriter(Q)
    assert result.queries == (Q,)
    assert "no usable rewrite" in result.note


def test_one_call_original_first_and_cached():
    gen = ScriptedChat("RRF formula\nrank fusion method\nmerging search results")
    rewriter = QueryRewriter(gen, n=3)
    first = rewriter(Q)
    assert first.queries == (Q, "RRF formula", "rank fusion method", "merging search results")
    assert rewriter(Q) is first and len(gen.calls) == 1
    assert "3" in gen.calls[0][0]["content"] and Q in gen.calls[0][0]["content"]


def test_korean_questions_ask_for_korean_rewrites():
    gen = ScriptedChat("서울의 인구\n수도 서울", "capital city\nFrance capital")
    rewriter = QueryRewriter(gen, n=2)
    assert rewriter("한국의 수도는?").queries == ("한국의 수도는?", "서울의 인구", "수도 서울")
    rewriter("What is the capital of France?")
    korean, english = (call[0]["content"] for call in gen.calls)
    assert "write every query in Korean" in korean and "Korean" not in english
