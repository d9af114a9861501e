"""The MCP server (issue 30) with the official SDK's client: over streamable HTTP on a real uvicorn
(keys, collection scopes, Host/Origin), and in process; fakes for the models."""

from __future__ import annotations

import json

import anyio
import httpx
import pytest

pytest.importorskip("mcp")

from mcp import Client  # noqa: E402

from foldrag.api.app import create_app  # noqa: E402
from tests.fakes import HashEmbedder, LoopChat  # noqa: E402
from tests.server_support import DOCS, live_server, make_collection, serve_settings, until, write_docs  # noqa: E402

TOOLS = {"search", "ask", "list_collections", "get_passage", "get_document"}


def _app(settings, tmp_path, chat=None, **server):
    cfg = serve_settings(settings, **server)
    chat = chat or LoopChat()
    docs = make_collection(cfg, HashEmbedder(), chat, write_docs(tmp_path / "docs"))
    cfg_b = cfg.model_copy(update={"index": cfg.index.model_copy(update={"path": tmp_path / "index-b"})})
    other = make_collection(cfg_b, HashEmbedder(), chat, write_docs(tmp_path / "docs-b", {"b.md": "# B\n\nOnly in b.\n"}))
    return create_app(cfg, {"docs": docs, "other": other}), chat


def _client(url: str, key: str | None = None) -> Client:
    """The SDK's client over streamable HTTP (its transport is built on httpx2), with a key."""
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    headers = {"authorization": f"Bearer {key}"} if key else {}
    return Client(streamable_http_client(url + "/mcp", http_client=httpx2.AsyncClient(headers=headers, timeout=60)))


def _ready(url: str) -> None:
    assert until(lambda: httpx.get(url + "/readyz").status_code == 200), "not ready"


def run(coro_fn):
    return anyio.run(coro_fn)


def test_tools_resources_and_cited_passages_over_http(settings, tmp_path):
    app, chat = _app(settings, tmp_path)
    with live_server(app) as url:
        _ready(url)

        async def go():
            async with _client(url) as client:
                tools = {t.name: t for t in (await client.list_tools()).tools}
                assert set(tools) == TOOLS
                search = tools["search"]
                assert search.input_schema["properties"]["k"]["maximum"] == 50
                assert "병가" in search.description and "GPU offload" in search.description
                assert search.output_schema["properties"]["passages"]["type"] == "array"

                found = await client.call_tool("search", {"query": "서울은 어느 나라의 수도인가요?", "k": 2})
                assert not found.is_error
                passages = found.structured_content["passages"]
                assert passages[0]["source"] == "korea.md" and "서울은 대한민국의 수도" in passages[0]["text"]
                assert passages[0]["collection"] == "docs" and passages[0]["n"] == 1
                assert found.structured_content["mode"] == "hybrid", "auto, the default, is hybrid with BM25"
                assert search.input_schema["properties"]["mode"]["anyOf"][0]["enum"] == ["auto", "hybrid", "dense", "bm25"]
                assert json.loads(found.content[0].text)["passages"][0]["chunk_id"] == passages[0]["chunk_id"]

                english = await client.call_tool("search", {"query": "capital of France Eiffel", "mode": "bm25"})
                top = english.structured_content["passages"][0]
                assert top["source"] == "france.md"

                answer = await client.call_tool("ask", {"question": "What is the capital of France?"})
                assert not answer.is_error, answer.content
                out = answer.structured_content
                assert out["answer"] == "Paris is the capital of France [1]."
                cited = out["citations"][0]
                assert cited["n"] == 1 and cited["source"] == "france.md" and "Paris is the capital" in cited["text"]
                assert out["evidence"][0]["text"] == "Paris is the capital of France."
                assert (out["evidence"][0]["n"], out["evidence"][0]["source"]) == (1, "france.md")

                passage = await client.call_tool("get_passage", {"chunk_id": cited["chunk_id"], "context": 1})
                assert passage.structured_content["passage"]["chunk_id"] == cited["chunk_id"]
                assert "Paris" in passage.structured_content["passage"]["text"]

                document = await client.call_tool("get_document", {"source": "korea.md"})
                assert "한강이 서울을 흐른다" in document.structured_content["pages"][0]["text"]
                assert document.structured_content["truncated"] is False
                cut = await client.call_tool("get_document", {"source": "korea.md", "max_chars": 100})
                assert len(cut.structured_content["pages"][0]["text"]) <= 100

                listed = await client.call_tool("list_collections", {})
                names = [c["name"] for c in listed.structured_content["collections"]]
                assert names == ["docs", "other"]

                resources = {str(r.uri) for r in (await client.list_resources()).resources}
                assert {"foldrag://docs/korea.md", "foldrag://docs/france.md", "foldrag://other/b.md"} <= resources
                read = await client.read_resource("foldrag://docs/korea.md")
                assert "서울은 대한민국의 수도이다" in read.contents[0].text

        run(go)


def test_errors_are_foldrag_errors_without_exception_text(settings, tmp_path):
    app, _ = _app(settings, tmp_path)
    with live_server(app) as url:
        _ready(url)

        async def go():
            async with _client(url) as client:
                unknown = await client.call_tool("search", {"query": "x", "collection": "nope"})
                assert unknown.is_error
                assert unknown.content[0].text.startswith("not_found: unknown collection 'nope'")
                too_many = await client.call_tool("search", {"query": "x", "k": 1000})
                assert too_many.is_error and "Traceback" not in too_many.content[0].text
                # one line in the error table's words: the field and the reason, not the validator's text
                assert too_many.content[0].text == "invalid_input: k: Input should be less than or equal to 50"
                wrong = await client.call_tool("search", {"query": "x", "mode": "telepathy"})
                assert wrong.content[0].text.startswith("invalid_input: mode: ") and "\n" not in wrong.content[0].text
                gone = await client.call_tool("get_passage", {"chunk_id": "0" * 32})
                assert gone.is_error and gone.content[0].text.endswith("(re-ingested since?)")
                assert "not_found" in gone.content[0].text
                page = await client.call_tool("get_document", {"source": "korea.md", "page": 9})
                assert page.is_error and "has no page 9" in page.content[0].text
                for text in (unknown, too_many, gone, page):
                    assert "Traceback" not in text.content[0].text and 'File "' not in text.content[0].text
                from mcp.shared.exceptions import MCPError

                with pytest.raises(MCPError):
                    await client.read_resource("foldrag://docs/../etc/passwd")
                with pytest.raises(MCPError, match="not_found"):
                    await client.read_resource("foldrag://docs/missing.md")

        run(go)
        # a lone surrogate cannot be sent by the SDK (it encodes UTF-8); sent raw, it is refused by the tool
        body = ('{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"search",'
                '"arguments":{"query":"x\\ud800"}}}')
        reply = httpx.post(url + "/mcp", content=body, headers={
            "content-type": "application/json", "accept": "application/json, text/event-stream",
            "mcp-protocol-version": "2026-07-28"})
        assert "lone surrogate" in reply.text or reply.status_code >= 400
        assert "Traceback" not in reply.text


def test_keys_and_collection_scopes_reach_only_their_collections(settings, tmp_path):
    from foldrag.core.settings import CollectionKeys

    app, _ = _app(settings, tmp_path, api_keys=["admin"], query_keys=["ask"],
                  collection_keys={"other": CollectionKeys(query_keys=["only-other"])})
    with live_server(app) as url:
        _ready(url)
        refused = httpx.post(url + "/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                             headers={"accept": "application/json, text/event-stream"})
        assert refused.status_code == 401
        assert refused.json()["error"]["type"] == "unauthorized"

        async def go():
            async with _client(url, "ask") as client:  # a query key may use the tools
                found = await client.call_tool("search", {"query": "Paris"})
                assert not found.is_error
            async with _client(url, "only-other") as client:
                listed = await client.call_tool("list_collections", {})
                assert [c["name"] for c in listed.structured_content["collections"]] == ["other"]
                found = await client.call_tool("search", {"query": "Only in b"})
                assert {p["source"] for p in found.structured_content["passages"]} == {"b.md"}
                denied = await client.call_tool("search", {"query": "Paris", "collection": "docs"})
                assert denied.is_error and "unknown collection 'docs'" in denied.content[0].text
                resources = {str(r.uri) for r in (await client.list_resources()).resources}
                assert resources == {"foldrag://other/b.md"}

        run(go)
        # another web page's write (a cross-origin POST) is refused before the MCP layer
        cross = httpx.post(url + "/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                           headers={"authorization": "Bearer admin", "origin": "https://evil.example",
                                    "accept": "application/json, text/event-stream"})
        assert cross.status_code == 403
        rebound = httpx.post(url + "/mcp", json={}, headers={"host": "evil.example", "authorization": "Bearer admin"})
        assert rebound.status_code == 403


def test_progress_arrives_and_cancellation_stops_the_generation(settings, tmp_path):
    chat = LoopChat("word " * 4, piece=5, endless=True)  # only a cancellation ends it
    app, _ = _app(settings, tmp_path, chat)
    with live_server(app) as url:
        _ready(url)
        progress: list[tuple[float, str | None]] = []

        async def go():
            async with _client(url) as client:
                generating = anyio.Event()

                async def on_progress(value, total, message):
                    progress.append((value, message))
                    if message and message.startswith("generating:"):
                        generating.set()

                async with anyio.create_task_group() as tasks:
                    tasks.start_soon(lambda: client.call_tool("ask", {"question": "What is the capital of France?"},
                                                              progress_callback=on_progress))
                    await generating.wait()
                    tasks.cancel_scope.cancel()
                # the server is still there and answers the next call
                found = await client.call_tool("search", {"query": "Paris"})
                assert not found.is_error

        run(go)
        # the top supporting sentence arrives as a progress message before the model writes
        assert [m for _, m in progress][:3] == ["retrieving", "evidence: Paris is the capital of France.", "generating"]
        assert until(lambda: chat.cancelled.is_set() and chat.running == 0), "the generation did not stop"
        assert chat.finished == 0, "an endless reply ends only by cancellation"
        assert until(lambda: "foldrag_generations_cancelled_total 1.0" in httpx.get(url + "/metrics").text)


def test_in_process_server_lists_documents_of_each_collection(settings, tmp_path):
    from foldrag.api.mcp_server import build_mcp

    app, _ = _app(settings, tmp_path)
    state = app.state.foldrag
    state.load_models()
    server = build_mcp(lambda request: state)

    async def go():
        async with Client(server) as client:
            resources = sorted(str(r.uri) for r in (await client.list_resources()).resources)
            assert resources == ["foldrag://docs/france.md", "foldrag://docs/fusion.md", "foldrag://docs/korea.md",
                                 "foldrag://other/b.md"]
            templates = (await client.list_resource_templates()).resource_templates
            assert templates[0].uri_template == "foldrag://{collection}/{+path}"
            assert len(DOCS) == 3

    run(go)
    state.close()
