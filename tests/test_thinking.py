import pytest

from foldrag.generation.thinking import ThinkSplitter, split_thinking

CASES = [
    ("<think>plan it</think>\nThe answer [1].", True, "plan it", "The answer [1]."),
    ("plan without opening tag</think>The answer.", True, "plan without opening tag", "The answer."),
    ("Plain answer, no tags.", False, "", "Plain answer, no tags."),
    ("<think>still thinking when cut off", True, "still thinking when cut off", ""),
    ("  <think>a</think>b</think>c", True, "a", "b</think>c"),
]


@pytest.mark.parametrize("text,reasoning_model,reasoning,answer", CASES)
def test_whole_outputs(text, reasoning_model, reasoning, answer):
    assert split_thinking(text, reasoning_model) == (reasoning, answer)


@pytest.mark.parametrize("text,reasoning_model,reasoning,answer", CASES)
@pytest.mark.parametrize("size", [1, 2, 3, 7])
def test_streamed_in_pieces(text, reasoning_model, reasoning, answer, size):
    splitter = ThinkSplitter(expects_reasoning=reasoning_model)
    got_r, got_a = "", ""
    for i in range(0, len(text), size):
        r, a = splitter.feed(text[i : i + size])
        got_r, got_a = got_r + r, got_a + a
        assert "<think>" not in got_a and "</think" not in got_r
    r, a = splitter.finish()
    assert ((got_r + r).strip(), (got_a + a).strip()) == (reasoning, answer)


def test_answer_streams_before_the_end():
    splitter = ThinkSplitter()
    splitter.feed("<think>x</think>Hel")
    assert splitter.answer == "Hel"
