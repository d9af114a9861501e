"""The MCP server's overhead (issue 30): the `search` tool's round trip over stdio (a real `foldrag mcp`
process) and over streamable HTTP (a real `foldrag serve`), with the official SDK's client, against
the retrieval time the server itself measured for the same call (the tool returns it as `seconds`).
Overhead = round trip − retrieval, per call; p50 and p95 over the queries, after a warm-up.

Corpora: the demo folder (examples/docs) and a SciFact sample (--scifact-docs documents, its test
claims as queries). Usage:  .venv/bin/python bench/mcp_overhead.py [--queries 50] [--scifact-docs 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio
import httpx

ROOT = Path(__file__).resolve().parents[1]
FOLDRAG = ROOT / ".venv" / "bin" / "foldrag"
SCIFACT = ROOT.parent / "shared" / "data" / "beir-scifact"
DEMO_QUERIES = ["How does GPU offload place layers?", "형태소 분석기는 무엇을 하나요?", "What is Reciprocal Rank Fusion?",
                "병가는 며칠인가요?", "서버실 점검은 언제인가요?", "How are chunks embedded?"]

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_throughput import cpu_name  # noqa: E402  (sibling scripts)
from prefix_cache import write_scifact  # noqa: E402  (a sibling script)


def env(work: Path) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("FOLDRAG_")}
    out.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", FOLDRAG_GENERATION__MODEL="none",
               FOLDRAG_GENERATION__MODE="quote", FOLDRAG_RETRIEVAL__MODE="hybrid",
               FOLDRAG_SERVER__CONVERSATIONS=str(work / "conversations.sqlite"),
               FOLDRAG_SERVER__COLLECTIONS_DIR=str(work / "collections"), FOLDRAG_CONFIG=str(work / "none.toml"))
    return out


def ingest(folder: Path, index: Path, work: Path) -> None:
    if not index.exists():
        subprocess.run([str(FOLDRAG), "ingest", str(folder), "--index", str(index), "-q"], check=True, env=env(work))


def scifact(work: Path, docs: int, queries: int) -> tuple[Path, list[str]]:
    folder = write_scifact(work / f"scifact-{docs}", docs)
    claims = [json.loads(line)["text"] for line in open(SCIFACT / "queries.jsonl")][:queries]
    index = work / f"scifact-{docs}-index"
    ingest(folder, index, work)
    return index, claims


async def round_trips(client, queries: list[str]) -> list[dict]:
    for q in queries[:3]:  # warm-up: models, caches, the first connection
        await client.call_tool("search", {"query": q})
    rows = []
    for q in queries:
        t0 = time.perf_counter()
        result = await client.call_tool("search", {"query": q, "k": 5})
        total = time.perf_counter() - t0
        assert not result.is_error, result.content
        server_s = result.structured_content["seconds"]
        rows.append({"round_trip_ms": total * 1e3, "retrieve_ms": server_s * 1e3, "overhead_ms": (total - server_s) * 1e3})
    return rows


def summary(rows: list[dict]) -> dict:
    def pct(key: str, p: float) -> float:
        values = sorted(r[key] for r in rows)
        return round(values[min(len(values) - 1, int(p * len(values)))], 2)

    return {key: {"p50": pct(key, 0.5), "p95": pct(key, 0.95)} for key in ("round_trip_ms", "retrieve_ms", "overhead_ms")} | {
        "calls": len(rows)}


def over_stdio(index: Path, queries: list[str], work: Path) -> dict:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    params = StdioServerParameters(command=str(FOLDRAG), args=["mcp", "--index", str(index)], env=env(work))

    async def go():
        async with Client(params, read_timeout_seconds=600) as client:
            return await round_trips(client, queries)

    return summary(anyio.run(go))


def sdk_floor(queries: list[str]) -> dict:
    """The same client against bench/mcp_floor_server.py over stdio (round trip = the SDK's overhead)."""
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    params = StdioServerParameters(command=sys.executable, args=[str(Path(__file__).with_name("mcp_floor_server.py"))])

    async def go():
        async with Client(params) as client:
            for q in queries[:3]:
                await client.call_tool("search", {"query": q})
            rows = []
            for q in queries:
                t0 = time.perf_counter()
                await client.call_tool("search", {"query": q, "k": 5})
                rows.append({"round_trip_ms": (time.perf_counter() - t0) * 1e3, "retrieve_ms": 0.0,
                             "overhead_ms": (time.perf_counter() - t0) * 1e3})
            return rows

    return summary(anyio.run(go))


def over_http(index: Path, queries: list[str], work: Path) -> dict:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([str(FOLDRAG), "serve", "--index", str(index), "--port", str(port)], env=env(work),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                if httpx.get(url + "/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)

        async def go():
            async with Client(streamable_http_client(url + "/mcp", http_client=httpx2.AsyncClient(timeout=600))) as client:
                return await round_trips(client, queries)

        return summary(anyio.run(go))
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--scifact-docs", type=int, default=1000)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "foldrag-bench-mcp")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    demo = args.work / "demo-index"
    ingest(ROOT / "examples" / "docs", demo, args.work)
    sets = {"demo": (demo, DEMO_QUERIES * max(1, args.queries // len(DEMO_QUERIES)))}
    if SCIFACT.exists():
        sets["scifact"] = scifact(args.work, args.scifact_docs, args.queries)
    result: dict = {"cpu": cpu_name(), "sdk_floor_stdio": sdk_floor(DEMO_QUERIES * 8)}
    print(json.dumps({"sdk_floor_stdio": result["sdk_floor_stdio"]}), flush=True)
    for name, (index, queries) in sets.items():
        result[name] = {"stdio": over_stdio(index, queries, args.work), "http": over_http(index, queries, args.work)}
        print(json.dumps({name: result[name]}, indent=1), flush=True)
    (args.work / "result.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
