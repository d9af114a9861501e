"""Pure parts of the API: the generation gate, path confinement, message splitting."""

from __future__ import annotations

import pytest

from foldrag.api.answers import split_messages
from foldrag.api.gate import GenerationGate
from foldrag.api.paths import confine
from foldrag.api.schemas import ChatMessage
from foldrag.core.errors import Forbidden, InvalidInput, NotFound, Overloaded


def test_gate_admits_up_to_capacity_then_refuses_with_retry_after():
    gate = GenerationGate(concurrent=1, queued=1)
    first, second = gate.admit(), gate.admit()
    with pytest.raises(Overloaded) as refused:
        gate.admit()
    assert refused.value.retry_after >= 1 and refused.value.spec.http_status == 429
    assert first.try_start() and not second.try_start()
    assert (gate.running, gate.waiting) == (1, 1)
    first.release()
    first.release()  # idempotent
    assert second.try_start() and (gate.running, gate.waiting) == (1, 0)
    second.release()
    assert (gate.running, gate.waiting) == (0, 0)
    gate.admit().release()  # room again


def test_gate_frees_the_place_of_a_permit_that_was_dropped():
    """A response that is never iterated drops its permit unreleased; its place must come back."""
    import gc

    gate = GenerationGate(concurrent=1, queued=0)
    permit = gate.admit()
    assert permit.try_start() and (gate.running, gate.waiting) == (1, 0)
    with pytest.raises(Overloaded):
        gate.admit()
    del permit
    gc.collect()
    assert (gate.running, gate.waiting) == (0, 0)
    again = gate.admit()
    assert again.try_start()
    again.release()


def test_retry_after_grows_with_the_queue():
    gate = GenerationGate(concurrent=1, queued=5)
    for _ in range(3):
        p = gate.admit()
        p.try_start()
        p._started_at -= 10.0  # each took ten seconds
        p.release()
    assert gate.retry_after() in (10, 11)  # ten seconds, plus the microseconds of the test
    held = [gate.admit() for _ in range(3)]
    assert gate.retry_after() in (40, 41)  # three waiting ahead, one running slot
    for p in held:
        p.release()


def test_confine(tmp_path):
    root = tmp_path / "root"
    (root / "docs" / "sub").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    (root / "inner-link").symlink_to(root / "docs", target_is_directory=True)
    assert confine("docs", [root]) == (root / "docs").resolve()
    assert confine(str(root / "docs" / "sub"), [root]) == (root / "docs" / "sub").resolve()
    assert confine("inner-link", [root]) == (root / "docs").resolve()  # a link that stays inside is fine
    assert confine(str(outside), [root, outside]) == outside.resolve()
    for bad in ["../outside", "docs/../../outside", str(outside), "link", "/", "", "docs\\..\\..", "a\x00b"]:
        with pytest.raises(Forbidden):
            confine(bad, [root])
    with pytest.raises(Forbidden):
        confine("docs", [])
    with pytest.raises(NotFound):
        confine("missing", [root])


def test_split_messages():
    msgs = [ChatMessage(role="system", content="be nice"), ChatMessage(role="user", content="hi"),
            ChatMessage(role="assistant", content="hello"), ChatMessage(role="user", content="what is RRF?")]
    assert split_messages(msgs) == ("what is RRF?", [{"role": "user", "content": "hi"},
                                                     {"role": "assistant", "content": "hello"}])
    with pytest.raises(InvalidInput):
        split_messages([ChatMessage(role="user", content="  ")])


def test_answers_at_once_are_bounded_by_a_model_server_not_by_foldrag(settings):
    from foldrag.build import SERVER_GENERATIONS, concurrent_generations

    assert concurrent_generations(settings) == 1  # a model in this process: one answer at a time
    served = settings.model_copy(update={"generation": settings.generation.model_copy(
        update={"base_url": "http://gpu-box:8000/v1", "model": "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"})})
    assert concurrent_generations(served) == SERVER_GENERATIONS == 256
    named = served.model_copy(update={"server": served.server.model_copy(update={"max_concurrent_generations": 8})})
    assert concurrent_generations(named) == 8
    gate = GenerationGate(concurrent=concurrent_generations(served), queued=0)
    permits = [gate.admit() for _ in range(SERVER_GENERATIONS)]
    assert all(p.try_start() for p in permits) and gate.running == SERVER_GENERATIONS  # all run at once
