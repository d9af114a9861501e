"""The MCP server as an agent meets it, with the official SDK's client: a real ``foldrag mcp`` process
over stdio and a real ``foldrag serve`` process over streamable HTTP, on the demo folder
(examples/docs) with the bundled embedder and the bundled SmolLM2 for ``ask``. The README's
configuration (command ``foldrag``, args ``mcp --index DIR``) is what the stdio client launches."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import anyio
import httpx
import pytest

from foldrag.generation.guards import is_refusal
from tests.conftest import REPO, run_cli
from tests.server_support import wait_served

pytest.importorskip("mcp")
pytestmark = pytest.mark.slow

FOLDRAG = Path(sys.executable).with_name("foldrag")


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLDRAG_")}
    env.update(FOLDRAG_GENERATION__MODEL="bundled:SmolLM2-135M-Instruct", FOLDRAG_GENERATION__MAX_NEW_TOKENS="48",
               FOLDRAG_GENERATION__KV_CACHE_DIR=str(tmp / "kv"), FOLDRAG_RETRIEVAL__MODE="hybrid",
               FOLDRAG_SERVER__CONVERSATIONS=str(tmp / "conversations.sqlite"),
               FOLDRAG_SERVER__COLLECTIONS_DIR=str(tmp / "collections"), FOLDRAG_CONFIG=str(tmp / "none.toml"),
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return env


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mcp-demo")
    docs = tmp / "docs"
    shutil.copytree(REPO / "examples" / "docs", docs)
    index = tmp / "demo"
    done = run_cli("ingest", str(docs), "--index", str(index), "-q")
    assert done.returncode == 0, done.stderr
    return tmp, index


async def _check_tools(client) -> None:
    tools = {t.name for t in (await client.list_tools()).tools}
    assert tools == {"search", "ask", "list_collections", "get_passage", "get_document"}
    korean = await client.call_tool("search", {"query": "병가는 며칠인가요?", "k": 3})
    assert not korean.is_error, korean.content
    hit = next(p for p in korean.structured_content["passages"] if p["source"] == "leave-policy-ko.hwpx")
    assert "| 병가 | 30일 |" in hit["text"]
    english = await client.call_tool("search", {"query": "How does GPU offload place layers?", "k": 3})
    top = english.structured_content["passages"][0]
    assert top["source"] == "gpu-offload.pdf" and "decoder layers on the GPU" in top["text"]
    around = await client.call_tool("get_passage", {"chunk_id": top["chunk_id"]})
    assert around.structured_content["passage"]["text"] == top["text"]
    page = await client.call_tool("get_document", {"source": "gpu-offload.pdf", "page": 1})
    assert "GPU offload" in page.structured_content["pages"][0]["text"]
    second = await client.call_tool("get_document", {"source": "gpu-offload.pdf", "page": 2})
    assert second.structured_content["pages"][0]["text"].startswith("CPU-only and disk offload")
    whole = await client.call_tool("get_document", {"source": "gpu-offload.pdf"})
    text = "".join(p["text"] for p in whole.structured_content["pages"])
    assert "GPU offload for local models" in text and "CPU-only and disk offload" in text


def test_stdio_server_from_the_readme_config(demo):
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    tmp, index = demo
    # the README's snippet: {"command": "foldrag", "args": ["mcp", "--index", "<index folder>"]}
    params = StdioServerParameters(command=str(FOLDRAG), args=["mcp", "--index", str(index)], env=_env(tmp))
    stages: list[str] = []

    async def go():
        async with Client(params, read_timeout_seconds=600) as client:
            await _check_tools(client)

            async def on_progress(value, total, message):
                stages.append(message or "")

            answer = await client.call_tool("ask", {"question": "How does GPU offload place layers?"},
                                            progress_callback=on_progress)
            assert not answer.is_error, answer.content
            out = answer.structured_content
            # the 135M model (a smoke test, not an answerer; its greedy text differs between CPUs) picks
            # its own sources: it cites, or says the documents do not say; what it cites is what its
            # [n] markers point at, and exists with the same text and source
            assert out["answer"] and (out["citations"] or is_refusal(out["answer"])), out
            for cited in out["citations"]:
                marker = re.search(rf"\[[^\]]*\b{cited['n']}\b[^\]]*\]", out["answer"])
                assert marker or out["citation_method"] != "model", out
                passage = await client.call_tool("get_passage", {"chunk_id": cited["chunk_id"]})
                assert not passage.is_error, "the cited chunk id exists"
                assert passage.structured_content["passage"]["text"] == cited["text"]
                assert passage.structured_content["passage"]["source"] == cited["source"]
            uris = {str(r.uri) for r in (await client.list_resources()).resources}
            assert "foldrag://demo/leave-policy-ko.hwpx" in uris

    anyio.run(go)
    assert "retrieving" in stages and "generating" in stages
    assert any(s.startswith("generating:") for s in stages)


def test_http_server_with_a_query_key(demo):
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    tmp, index = demo
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = _env(tmp)
    env.update(FOLDRAG_SERVER__API_KEYS='["admin-key"]', FOLDRAG_SERVER__QUERY_KEYS='["query-key"]')
    server = subprocess.Popen([str(FOLDRAG), "serve", "--index", str(index), "--port", str(port)], cwd=REPO, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_served(url, server, 300)
        none = httpx.post(url + "/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                          headers={"accept": "application/json, text/event-stream"})
        assert none.status_code == 401

        async def go():
            http = httpx2.AsyncClient(headers={"authorization": "Bearer query-key"}, timeout=600)
            async with Client(streamable_http_client(url + "/mcp", http_client=http)) as client:
                await _check_tools(client)
                bad = await client.call_tool("search", {"query": "x", "collection": "nope"})
                assert bad.is_error and bad.content[0].text.startswith("not_found: unknown collection 'nope'")

        anyio.run(go)
    finally:
        server.terminate()
        server.wait(timeout=30)
