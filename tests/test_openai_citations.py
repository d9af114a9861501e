"""OpenAI-shaped citations: one entry per distinct source, markers renumbered to match, on a stream too."""

from __future__ import annotations

from foldrag.api.openai_citations import Renumbering
from foldrag.generation.citations import Citation


def _sources(*names):
    return [Citation(n=n, chunk_id=f"c{n}", source=name, page=None, snippet="", score=1.0)
            for n, name in enumerate(names, start=1)]


def test_chunks_of_one_file_become_one_entry_in_first_mention_order():
    sources = _sources("a.md", "b.md", "b.md", "c.md")
    numbers = Renumbering(sources)
    text = numbers.feed("X [3]. Y [2, 4]. Z [1]. W [9].") + numbers.flush()
    assert text == "X [1]. Y [1][2]. Z [3]. W ."
    assert numbers.labels == ["b.md", "c.md", "a.md"]
    assert [numbers.number_of(s) for s in sources] == [3, 1, 1, 2]


def test_a_marker_cut_between_pieces_is_held_until_whole():
    numbers = Renumbering(_sources("a.md", "b.md"))
    pieces = ["Seoul ", "[", "2", "] and ", "Paris [", "1]."]
    out = [numbers.feed(p) for p in pieces] + [numbers.flush()]
    assert out == ["Seoul ", "", "", "[1] and ", "Paris ", "[2].", ""]
    assert numbers.labels == ["b.md", "a.md"]


def test_uncited_sources_have_no_number_and_text_without_markers_passes():
    sources = _sources("a.md")
    numbers = Renumbering(sources)
    assert numbers.feed("no markers [here]") + numbers.flush() == "no markers [here]"
    assert numbers.labels == [] and numbers.number_of(sources[0]) is None
