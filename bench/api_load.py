"""Load test of the HTTP API on loopback: many clients on /v1/retrieve, then a mix with /v1/query.

Usage:  .venv/bin/python bench/api_load.py [--index DIR] [--clients 50] [--seconds 60]
                                           [--query-clients 4] [--mix-retrieve-clients 10] [--json]

It starts `foldrag serve` as a separate process with the bundled models (answers capped at 48
new tokens, retrieval mode 'hybrid'), waits for /readyz, warms up, then runs
  1. --clients concurrent clients against POST /v1/retrieve for --seconds;
  2. a mix: --mix-retrieve-clients on /v1/retrieve and --query-clients on POST /v1/query for
     --seconds (a 429 is counted, and its client waits Retry-After, at most 2 s, before the next);
  3. and 4. the retrieve phase twice more, to see whether memory settles;
  5. --burst-query-clients on /v1/query alone, more than the generation queue holds (429s expected).
Reported per phase and endpoint: requests/s, p50/p99 latency, 5xx (target 0), 429s, and the
server's RSS before and after each phase (target: stable). Client and server share the machine.
The index defaults to the SciFact corpus (5,183 abstracts) from ../shared/data, ingested once into
.bench/scifact-index (a few minutes, reused), else examples/docs in a temporary folder. Queries come from SciFact when ../shared/data
has it, else from a fixed list.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

REPO = Path(__file__).resolve().parent.parent
FALLBACK_QUERIES = ["How does GPU offload place layers?", "What is reciprocal rank fusion?",
                    "형태소 분석기는 무엇을 하나요?", "Where does the index live?", "임베딩이란 무엇인가요?"]


def rss_mb(pid: int) -> float:
    """RSS of ``pid`` and its child processes (the workers of `foldrag serve --workers N`)."""
    children = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _parent(p) == pid]
    return _own_rss_mb(pid) + sum(_own_rss_mb(child) for child in children)


def _parent(proc: Path) -> int:
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return -1


def _own_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def pick_index(arg: str | None, tmp: Path) -> Path:
    """--index, else the SciFact corpus ingested once into .bench/scifact-index, else examples/docs."""
    if arg:
        return Path(arg)
    data = REPO.parent / "shared" / "data" / "beir-scifact"
    if data.is_dir():
        index = REPO / ".bench" / "scifact-index"
        if not (index / "CURRENT").exists():
            from foldrag.evaluation.datasets import load_beir
            from foldrag.evaluation.runner import write_corpus

            corpus = REPO / ".bench" / "scifact-corpus"
            write_corpus(load_beir(data), corpus)
            subprocess.run([sys.executable, "-m", "foldrag.cli", "ingest", str(corpus), "--index", str(index), "-q"],
                           check=True, cwd=REPO)
        return index
    index = tmp / "index"
    subprocess.run([sys.executable, "-m", "foldrag.cli", "ingest", str(REPO / "examples" / "docs"), "--index", str(index),
                    "-q"], check=True, cwd=REPO)
    return index


def load_queries() -> list[str]:
    path = REPO.parent / "shared" / "data" / "beir-scifact" / "queries.jsonl"
    if path.exists():
        with open(path, encoding="utf-8") as handle:
            return [json.loads(line)["text"] for line in handle][:500]
    return FALLBACK_QUERIES


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Tally:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.errors = 0

    def report(self, seconds: float) -> dict:
        lat = sorted(self.latencies)
        pct = lambda p: round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 1) if lat else None  # noqa: E731
        ok = self.statuses.get(200, 0)
        return {"requests": sum(self.statuses.values()), "ok": ok, "rps_ok": round(ok / seconds, 2),
                "p50_ms": pct(0.50), "p99_ms": pct(0.99),
                "5xx": sum(n for s, n in self.statuses.items() if s >= 500), "429": self.statuses.get(429, 0),
                "other_4xx": sum(n for s, n in self.statuses.items() if 400 <= s < 500 and s != 429),
                "connection_errors": self.errors}


async def client_loop(client: httpx.AsyncClient, path: str, make_body, tally: Tally, until: float) -> None:
    while time.monotonic() < until:
        t0 = time.perf_counter()
        try:
            response = await client.post(path, json=make_body())
        except httpx.HTTPError:
            tally.errors += 1
            continue
        tally.statuses[response.status_code] = tally.statuses.get(response.status_code, 0) + 1
        if response.status_code == 200:
            tally.latencies.append(time.perf_counter() - t0)
        elif response.status_code == 429:
            await asyncio.sleep(min(2.0, float(response.headers.get("retry-after", "1"))))


async def phase(url: str, seconds: float, groups: list[tuple[str, int, object]]) -> dict:
    until = time.monotonic() + seconds
    tallies = {path: Tally() for path, _, _ in groups}
    total = sum(n for _, n, _ in groups)
    limits = httpx.Limits(max_connections=total + 4, max_keepalive_connections=total + 4)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as client:
        tasks = [client_loop(client, path, body, tallies[path], until) for path, n, body in groups for _ in range(n)]
        start = time.monotonic()
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - start
    return {path: dict(t.report(elapsed), clients=n) for (path, n, _), t in zip(groups, tallies.values())}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--query-clients", type=int, default=4)
    ap.add_argument("--mix-retrieve-clients", type=int, default=10)
    ap.add_argument("--burst-query-clients", type=int, default=8,
                    help="Query clients of the last phase: more than the queue holds, to see 429s.")
    ap.add_argument("--workers", type=int, default=1, help="foldrag serve --workers N.")
    ap.add_argument("--retrieve-only", action="store_true",
                    help="Phase 1 alone, with no answering model loaded (generation.model = none).")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    queries = load_queries()
    rng = random.Random(0)
    retrieve_body = lambda: {"query": rng.choice(queries), "k": 5}  # noqa: E731
    query_body = lambda: {"question": rng.choice(queries), "k": 3}  # noqa: E731
    with tempfile.TemporaryDirectory() as tmp:
        index = pick_index(args.index, Path(tmp))
        port = free_port()
        env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", FOLDRAG_RETRIEVAL__MODE="hybrid",
                   FOLDRAG_GENERATION__MAX_NEW_TOKENS="48")
        if args.retrieve_only:
            env["FOLDRAG_GENERATION__MODEL"] = "none"
        workers = ["--workers", str(args.workers)] if args.workers > 1 else []
        server = subprocess.Popen([sys.executable, "-m", "foldrag.cli", "serve", "--index", str(index), "--port", str(port),
                                   *workers],
                                  cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            t0 = time.monotonic()
            while True:
                try:  # every worker: fresh connections reach either
                    if all(httpx.get(url + "/readyz").status_code == 200 for _ in range(5 * args.workers)):
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.monotonic() - t0 > 300:
                    raise SystemExit("the server did not become ready")
                time.sleep(0.5)
            ready_s = time.monotonic() - t0
            for q in queries[:10]:
                httpx.post(url + "/v1/retrieve", json={"query": q}, timeout=60)
            if not args.retrieve_only:
                httpx.post(url + "/v1/query", json={"question": queries[0]}, timeout=300)
            collections = httpx.get(url + "/v1/collections").json()["collections"]
            result = {"index": str(index), "chunks": collections[0]["chunks"], "ready_s": round(ready_s, 1),
                      "workers": args.workers, "rss_mb_start": round(rss_mb(server.pid), 1)}
            result["retrieve"] = asyncio.run(phase(url, args.seconds, [("/v1/retrieve", args.clients, retrieve_body)]))
            result["rss_mb_after_retrieve"] = round(rss_mb(server.pid), 1)
            if args.retrieve_only:
                print(json.dumps(result, indent=2, ensure_ascii=False))
                return
            result["mix"] = asyncio.run(phase(url, args.seconds, [
                ("/v1/retrieve", args.mix_retrieve_clients, retrieve_body),
                ("/v1/query", args.query_clients, query_body)]))
            result["rss_mb_after_mix"] = round(rss_mb(server.pid), 1)
            result["retrieve_again"] = asyncio.run(phase(url, args.seconds, [("/v1/retrieve", args.clients, retrieve_body)]))
            result["rss_mb_after_retrieve_again"] = round(rss_mb(server.pid), 1)
            result["retrieve_third"] = asyncio.run(phase(url, args.seconds, [("/v1/retrieve", args.clients, retrieve_body)]))
            result["rss_mb_after_retrieve_third"] = round(rss_mb(server.pid), 1)
            result["query_burst"] = asyncio.run(phase(url, args.seconds, [("/v1/query", args.burst_query_clients, query_body)]))
            result["rss_mb_end"] = round(rss_mb(server.pid), 1)
        finally:
            server.terminate()
            server.wait(timeout=30)
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return
    print(f"index {result['index']} ({result['chunks']} chunks); ready in {result['ready_s']} s")
    for name in ("retrieve", "mix", "retrieve_again", "retrieve_third", "query_burst"):
        for path, r in result[name].items():
            print(f"{name:15s} {path:13s} clients {r['clients']:3d}: {r['rps_ok']:7.2f} req/s ok, p50 {r['p50_ms']} ms, "
                  f"p99 {r['p99_ms']} ms, 5xx {r['5xx']}, 429 {r['429']}, other 4xx {r['other_4xx']}, "
                  f"conn errors {r['connection_errors']}")
    print(f"server RSS MB: start {result['rss_mb_start']}, after retrieve {result['rss_mb_after_retrieve']}, "
          f"after mix {result['rss_mb_after_mix']}, after retrieve again {result['rss_mb_after_retrieve_again']}, "
          f"after retrieve third {result['rss_mb_after_retrieve_third']}, end {result['rss_mb_end']}")


if __name__ == "__main__":
    main()
