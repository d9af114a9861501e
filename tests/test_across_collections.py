"""One question over several collections, in the core (``AcrossCollections``): the Python API,
the CLI (``--index A --index B``) and MCP (``collection`` as a list) ask it as the HTTP API does."""

from __future__ import annotations

import json

import anyio
import pytest

from foldrag.across_collections import AcrossCollections
from foldrag.build import build_collections
from foldrag.core.errors import InvalidInput, NotFound
from foldrag.retrieval.hybrid import fusion_of
from tests.conftest import run_cli
from tests.fakes import HashEmbedder, LoopChat
from tests.server_support import shared_tokenizer, write_docs

HR = {"leave.md": "# 휴가\n\n병가는 30일이다. Sick leave is thirty days.\n"}


@pytest.fixture
def two(settings, tmp_path):
    paths = {"docs": tmp_path / "index-docs", "hr": tmp_path / "index-hr"}
    members = build_collections(settings, paths, HashEmbedder(), LoopChat("Paris [1]. Thirty days [2]."),
                                tokenizer=shared_tokenizer())
    members["docs"].ingest(write_docs(tmp_path / "docs"))
    members["hr"].ingest(write_docs(tmp_path / "hr", HR))
    both = AcrossCollections(members, fusion_of(settings.retrieval.fusion))
    yield both
    both.close()


def test_a_search_ranks_every_collection_and_each_hit_names_its_own(two):
    hits = two.search("병가 capital of France", k=6, mode="hybrid")
    named = {hit.chunk.source: hit.collection for hit in hits}
    assert named["leave.md"] == "hr" and named["france.md"] == "docs"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[0].to_json()["collection"] in ("docs", "hr")
    assert two.name == "docs,hr"


def test_an_answer_cites_sources_of_both_collections(two):
    answer = two.ask("병가 capital of France", k=6)
    assert {c.collection for c in answer.citations} == {"docs", "hr"}
    assert answer.answer.startswith("Paris")


def test_one_collection_is_that_collection_as_it_is(two):
    alone = AcrossCollections({"hr": two.members["hr"]})
    hits = alone.search("병가", k=2)
    assert hits[0].chunk.source == "leave.md" and hits[0].collection == ""
    assert alone.prepare("병가").retriever is two.members["hr"].prepare("병가").retriever


def test_each_collection_checks_the_question(two, settings, tmp_path):
    with pytest.raises(InvalidInput):
        two.search("   ")
    [empty] = build_collections(settings, {"none": tmp_path / "no-index"}, HashEmbedder(),
                                tokenizer=shared_tokenizer(), with_generator=False).values()
    with pytest.raises(NotFound):
        AcrossCollections({**two.members, "none": empty}).search("병가")
    with pytest.raises(InvalidInput):
        AcrossCollections({})


def test_mcp_search_takes_a_list_of_collections(two, settings):
    from mcp import Client

    from foldrag.api.app import create_app
    from foldrag.api.mcp_server import build_mcp
    from tests.server_support import serve_settings

    app = create_app(serve_settings(settings), dict(two.members))
    state = app.state.foldrag
    state.load_models()
    server = build_mcp(lambda request: state)

    async def go():
        async with Client(server) as client:
            found = await client.call_tool("search", {"query": "병가 capital of France", "k": 6,
                                                      "collection": ["docs", "hr"]})
            named = {p["source"]: p["collection"] for p in found.structured_content["passages"]}
            assert named["leave.md"] == "hr" and named["france.md"] == "docs"
            one = await client.call_tool("search", {"query": "병가", "collection": "hr"})
            assert {p["collection"] for p in one.structured_content["passages"]} == {"hr"}

    anyio.run(go)


@pytest.mark.slow
def test_the_cli_and_open_many_ask_several_index_folders(tmp_path):
    import foldrag

    docs, hr = write_docs(tmp_path / "docs"), write_docs(tmp_path / "hr", HR)
    for folder, index in ((docs, "idx-docs"), (hr, "idx-hr")):
        done = run_cli("ingest", str(folder), "--index", str(tmp_path / index), "-q")
        assert done.returncode == 0, done.stderr
    done = run_cli("search", "병가 capital of France", "--index", str(tmp_path / "idx-docs"),
                   "--index", str(tmp_path / "idx-hr"), "-k", "6", "--json")
    assert done.returncode == 0, done.stderr
    named = {hit["source"]: hit["collection"] for hit in json.loads(done.stdout)}
    assert named["leave.md"] == "idx-hr" and named["france.md"] == "idx-docs"
    shown = run_cli("search", "병가", "--index", str(tmp_path / "idx-docs"), "--index", str(tmp_path / "idx-hr"))
    assert "idx-hr: leave.md" in shown.stdout
    both = foldrag.open_many([tmp_path / "idx-docs", tmp_path / "idx-hr"], answers=False)
    try:
        assert {h.collection for h in both.search("병가 capital of France", k=6)} == {"idx-docs", "idx-hr"}
    finally:
        both.close()
