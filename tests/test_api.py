"""HTTP API through FastAPI's TestClient, with the hash embedder and a looping fake LLM."""

from __future__ import annotations

import json
import os
import threading
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from foldrag.api.app import create_app
from foldrag.build import build_rag
from tests.fakes import HashEmbedder, LoopChat
from tests.server_support import make_collection, serve_settings, shared_tokenizer, wait_ready, write_docs


@pytest.fixture
def make_api(tmp_path, settings):
    clients = []

    def make(server: dict | None = None, chat: LoopChat | None = None, ingest: bool = True):
        cfg = serve_settings(settings, **(server or {}))
        chat = chat or LoopChat()
        docs = write_docs(tmp_path / "docs") if ingest else None
        rag = make_collection(cfg, HashEmbedder(), chat, docs)
        client = TestClient(create_app(cfg, {"docs": rag}))
        client.__enter__()
        clients.append(client)
        wait_ready(client)
        return SimpleNamespace(client=client, chat=chat, rag=rag, settings=cfg, tmp=tmp_path)

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def sse_events(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        kind, data = "message", []
        for line in block.splitlines():
            if line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if data:
            events.append((kind, json.loads("\n".join(data)) if data[0] != "[DONE]" else "[DONE]"))
    return events


def assert_error(response, status: int, kind: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["type"] == kind and body["error"]["message"]
    return body["error"]


# --- health, readiness, metrics ------------------------------------------------------------------

def test_healthz_and_readyz_wait_for_models(settings):
    gate = threading.Event()
    embedder = HashEmbedder()

    def slow_embedder():
        gate.wait(10)
        return embedder

    rag = build_rag(settings, generator=LoopChat(), tokenizer=shared_tokenizer(), load_embedder=slow_embedder)
    with TestClient(create_app(serve_settings(settings), {"docs": rag})) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert_error(client.get("/readyz"), 503, "not_ready")
        assert_error(client.post("/v1/query", json={"question": "capital of France?"}), 503, "not_ready")
        gate.set()
        wait_ready(client)
        assert client.get("/readyz").json()["collections"] == ["docs"]


def test_readyz_reports_a_model_that_failed_to_load(settings):
    from foldrag.core.errors import ModelUnavailable

    def broken():
        raise ModelUnavailable("no model at /nowhere")

    rag = build_rag(settings, tokenizer=shared_tokenizer(), load_embedder=broken)
    with TestClient(create_app(serve_settings(settings), {"docs": rag})) as client:
        for _ in range(200):
            if client.app.state.foldrag.load_error:
                break
            threading.Event().wait(0.01)
        error = assert_error(client.get("/readyz"), 503, "not_ready")
        assert "/nowhere" in error["message"]


class _SpyTokenizer:
    """The shared keyword tokenizer, recording the texts it is given."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def __call__(self, text):
        self.texts.append(text)
        return shared_tokenizer()(text)

    def __getattr__(self, name):
        return getattr(shared_tokenizer(), name)


def test_start_up_loads_korean_analysis_only_for_an_index_with_korean(settings, tmp_path):
    # The first Korean search otherwise paid ~5 s for Kiwi; an English-only server never loads it,
    # and a collection that cannot warm up leaves the others serving.
    from foldrag.core.errors import IndexCorrupt
    from foldrag.core.tokenize import has_hangul
    from tests.server_support import DOCS

    def collection(name, docs, tokenizer):
        own = settings.model_copy(update={"index": settings.index.model_copy(update={"path": tmp_path / name})})
        rag = build_rag(own, tokenizer=tokenizer, load_embedder=HashEmbedder)
        rag.ingest(write_docs(tmp_path / f"{name}-docs", docs))
        return rag

    korean, english = _SpyTokenizer(), _SpyTokenizer()
    ko = collection("ko", DOCS, korean)
    en = collection("en", {"france.md": DOCS["france.md"]}, english)
    broken = collection("broken", {"fusion.md": DOCS["fusion.md"]}, _SpyTokenizer())

    def damaged():
        raise IndexCorrupt("the index is damaged")

    broken.warm_up = damaged
    korean.texts.clear()
    english.texts.clear()
    with TestClient(create_app(serve_settings(settings), {"ko": ko, "en": en, "broken": broken})) as client:
        wait_ready(client)
    assert any(has_hangul(text) for text in korean.texts), "Kiwi was not warmed up for a Korean index"
    assert not any(has_hangul(text) for text in english.texts)


def test_metrics_count_requests_and_answer_stages(make_api):
    api = make_api()
    assert api.client.post("/v1/query", json={"question": "What is the capital of France?"}).status_code == 200
    text = api.client.get("/metrics").text
    assert 'foldrag_requests_total{method="POST",route="/v1/query",status="200"} 1.0' in text
    assert 'foldrag_stage_seconds_count{stage="retrieve"} 1.0' in text
    assert "foldrag_generation_tokens_per_second_count 1.0" in text
    assert "foldrag_generation_queue_depth 0.0" in text


def _caching_chat() -> LoopChat:
    chat = LoopChat()
    chat.cached_tokens = 60
    chat.cache = {"entries": 3.0, "bytes": 4096.0, "limit_bytes": 1 << 20, "hits": 3.0, "misses": 1.0, "damaged": 0.0}
    return chat


def test_metrics_show_the_chunk_cache_and_reused_prompt_tokens(make_api):
    api = make_api(chat=_caching_chat())
    body = api.client.post("/v1/query", json={"question": "What is the capital of France?"}).json()
    assert body["timings"]["prompt_reused_tokens"] == 60.0
    assert body["timings"]["prompt_computed_tokens"] == 40.0
    assert body["timings"]["prefill_saved_s"] >= 0.0
    text = api.client.get("/metrics").text
    assert 'foldrag_prompt_tokens_total{kind="reused"} 60.0' in text
    assert 'foldrag_prompt_tokens_total{kind="computed"} 40.0' in text
    assert 'foldrag_kv_cache{figure="bytes"} 4096.0' in text
    assert 'foldrag_kv_cache{figure="entries"} 3.0' in text
    assert "foldrag_kv_cache_hit_ratio 0.75" in text


# --- /v1/query ------------------------------------------------------------------------------------

def test_query_answers_with_citations(make_api):
    api = make_api()
    body = api.client.post("/v1/query", json={"question": "What is the capital of France?", "k": 3}).json()
    assert body["answer"] == "Paris is the capital of France [1]."
    assert body["collection"] == "docs"
    assert set(body) >= {"answer", "reasoning", "citations", "queries", "timings"}
    [cite] = body["citations"]
    assert set(cite) == {"n", "chunk_id", "source", "page", "pages", "snippet", "score", "start", "end", "spans",
                         "signals", "support"}
    assert cite["n"] == 1 and cite["source"] == "france.md" and "Paris" in cite["snippet"]
    # the ranks behind the place: each retriever's, then the fusion's; the sentence that supports it
    assert [s["name"] for s in cite["signals"]] == ["dense", "bm25", "fused"]
    assert all(s["rank"] >= 1 for s in cite["signals"]) and cite["support"] is not None
    assert body["queries"] == ["What is the capital of France?"]
    assert body["timings"]["retrieve_s"] >= 0


def test_query_passes_history_to_the_model(make_api):
    api = make_api()
    history = [{"role": "user", "content": "Tell me about France"}, {"role": "assistant", "content": "It is a country."}]
    assert api.client.post("/v1/query", json={"question": "And its capital?", "history": history}).status_code == 200
    condense = api.chat.calls[0]  # the follow-up is first rewritten into a standalone question
    assert any("Tell me about France" in m["content"] for m in condense)


def test_query_stream_sends_events_in_order(make_api):
    api = make_api()
    response = api.client.post("/v1/query", json={"question": "What is the capital of France?", "stream": True})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    kinds = [k for k, _ in events]
    assert kinds[:5] == ["status", "queries", "evidence", "sources", "status"] and kinds[-1] == "done"
    assert events[0][1] == {"stage": "retrieving"}, "something shows before retrieval starts"
    assert set(kinds[5:-1]) == {"token"} and len(kinds[5:-1]) > 1
    assert "".join(d["text"] for k, d in events if k == "token") == "Paris is the capital of France [1]."
    top = events[2][1]["evidence"][0]
    assert (top["n"], top["source"], top["text"]) == (1, "france.md", "Paris is the capital of France.")
    assert events[3][1]["sources"][0]["n"] == 1
    assert events[-1][1]["evidence"] == events[2][1]["evidence"], "the final answer keeps the evidence it showed"
    done = events[-1][1]
    assert done["answer"] == "Paris is the capital of France [1]." and done["citations"][0]["source"] == "france.md"


def test_query_stream_reports_errors_as_an_event(make_api, tmp_path):
    api = make_api()
    api.chat.stream = lambda *a, **k: (_ for _ in ()).throw(__import__("foldrag.core.errors").core.errors.ModelUnavailable("gone"))
    events = sse_events(api.client.post("/v1/query", json={"question": "capital?", "stream": True}).text)
    assert events[-1] == ("error", {"error": {"type": "model_unavailable", "message": "gone",
                                              "code": "model_unavailable", "param": None}})


@pytest.mark.parametrize("payload, status, kind", [
    ({}, 400, "invalid_input"),
    ({"question": 42}, 400, "invalid_input"),
    ({"question": "ok", "k": "many"}, 400, "invalid_input"),
    ({"question": "ok", "k": 0}, 400, "invalid_input"),
    ({"question": "ok", "mode": "telepathy"}, 400, "invalid_input"),
    ({"question": "ok", "surprise": 1}, 400, "invalid_input"),
    ({"question": "   "}, 400, "invalid_input"),
    ({"question": "x" * 1_000_000}, 413, "too_large"),
    ({"question": "ok", "collection": "nope"}, 404, "not_found"),
    ({"question": "ok", "history": [{"role": "system", "content": "x"}]}, 400, "invalid_input"),
])
def test_query_bad_input_is_a_clear_4xx(make_api, payload, status, kind):
    api = make_api()
    error = assert_error(api.client.post("/v1/query", json=payload), status, kind)
    if kind == "not_found":
        assert "docs" in error["message"]  # names the collections that exist


def test_malformed_json_and_unknown_routes(make_api):
    api = make_api()
    error = assert_error(api.client.post("/v1/query", content=b"{not json", headers={"content-type": "application/json"}),
                         400, "invalid_input")
    assert "JSON" in error["message"]
    assert_error(api.client.get("/v1/nothing-here"), 404, "not_found")


def test_query_on_a_collection_without_an_index_is_404(make_api):
    api = make_api(ingest=False)
    error = assert_error(api.client.post("/v1/query", json={"question": "anything?"}), 404, "not_found")
    assert "foldrag ingest" in error["message"]


# --- /v1/retrieve -------------------------------------------------------------------------------

def test_retrieve_ranks_chunks_with_a_trace(make_api):
    api = make_api()
    body = api.client.post("/v1/retrieve", json={"query": "Reciprocal Rank Fusion", "k": 2}).json()
    assert body["hits"][0]["source"] == "fusion.md" and len(body["hits"]) == 2
    assert body["trace"]["mode"] == "hybrid"
    assert body["trace"]["fusion"].startswith("convex (minmax); dense weight en→ko 1, en→en 0.5")
    assert [p["list"] for p in body["trace"]["fused"][0]["parts"]] == ["dense", "bm25"]
    assert api.client.post("/v1/retrieve", json={"query": "fusion", "mode": "auto"}).json()["trace"]["mode"] == "hybrid"
    assert api.chat.calls == []  # no generation
    korean = api.client.post("/v1/retrieve", json={"query": "대한민국의 수도", "mode": "bm25"}).json()
    assert korean["hits"][0]["source"] == "korea.md"
    assert_error(api.client.post("/v1/retrieve", json={"query": ""}), 400, "invalid_input")


# --- OpenAI-compatible ------------------------------------------------------------------------------

def test_models_lists_collections(make_api):
    api = make_api()
    assert api.client.get("/v1/models").json()["data"][0]["id"] == "docs"


def test_chat_completion_keeps_citations(make_api):
    api = make_api()
    body = api.client.post("/v1/chat/completions", json={
        "model": "docs", "temperature": 0.2,
        "messages": [{"role": "system", "content": "be brief"},
                     {"role": "user", "content": [{"type": "text", "text": "What is the capital of France?"}]}],
    }).json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["content"] == "Paris is the capital of France [1]."
    assert body["citations"] == ["france.md"], "one entry per distinct cited source, in marker order"
    first = body["search_results"][0]
    assert first["n"] == 1 and first["source"] == "france.md" and first["cited"] is True
    # the prompt's sources are the chunks holding evidence, in rank order
    held = list(dict.fromkeys(e["chunk_id"] for e in sorted(body["foldrag"]["evidence"], key=lambda e: e["n"])))
    assert [r["chunk_id"] for r in body["search_results"]] == held
    assert not any(r["cited"] for r in body["search_results"][1:])
    assert body["usage"]["completion_tokens"] == 9


def test_chat_completion_errors(make_api):
    api = make_api()
    assert_error(api.client.post("/v1/chat/completions", json={"model": "other", "messages": [{"role": "user", "content": "hi"}]}),
                 404, "not_found")
    assert_error(api.client.post("/v1/chat/completions", json={"model": "docs", "messages": [{"role": "assistant", "content": "hi"}]}),
                 400, "invalid_input")
    assert_error(api.client.post("/v1/chat/completions", json={"model": "docs", "messages": []}), 400, "invalid_input")


# --- auth and CORS ---------------------------------------------------------------------------------

def test_api_keys_guard_everything_but_health(make_api):
    api = make_api(server={"api_keys": ["s3cret", "other"]})
    c = api.client
    assert c.get("/healthz").status_code == 200 and c.get("/readyz").status_code == 200
    for method, path in [("get", "/v1/models"), ("get", "/v1/collections"), ("get", "/metrics"), ("get", "/v1/documents")]:
        response = getattr(c, method)(path)
        assert_error(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"
    assert_error(c.post("/v1/query", json={"question": "q"}, headers={"Authorization": "Bearer wrong"}), 401, "unauthorized")
    assert_error(c.post("/v1/query", json={"question": "q"}, headers={"Authorization": "s3cret"}), 401, "unauthorized")
    ok = c.post("/v1/retrieve", json={"query": "Paris"}, headers={"Authorization": "Bearer other"})
    assert ok.status_code == 200
    assert c.get("/widget.js").status_code == 200  # a <script src> cannot send a header; it holds no data


def test_keys_from_the_environment(monkeypatch, settings):
    from foldrag.core.settings import Settings

    monkeypatch.setenv("FOLDRAG_API_KEYS", "sk-one,sk-two")
    monkeypatch.setenv("FOLDRAG_ALLOWED_ROOTS", f"/srv/docs{os.pathsep}/home/me/notes")
    loaded = Settings.load()
    assert [k.get_secret_value() for k in loaded.server.api_keys] == ["sk-one", "sk-two"]
    assert "sk-one" not in loaded.model_dump_json()  # `foldrag config` does not print the keys
    assert [str(p) for p in loaded.server.allowed_roots] == ["/srv/docs", "/home/me/notes"]


def test_key_comparison():
    from foldrag.api.auth import key_is_valid

    assert key_is_valid("Bearer abc", ["x", "abc"]) and key_is_valid("bearer abc", ["abc"])
    assert not key_is_valid("Bearer abd", ["abc"]) and not key_is_valid(None, ["abc"])
    assert not key_is_valid("Basic abc", ["abc"]) and not key_is_valid("Bearer ", ["abc"])


def test_cors_allows_configured_origins(make_api):
    api = make_api(server={"cors_origins": ["https://chat.example"]})
    preflight = api.client.options("/v1/query", headers={
        "Origin": "https://chat.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://chat.example"
    other = api.client.options("/v1/query", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in other.headers


# --- ingest jobs and path confinement ----------------------------------------------------------------

def _wait_job(client, job_id: str) -> dict:
    for _ in range(500):
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("done", "failed"):
            return job
        threading.Event().wait(0.02)
    raise AssertionError("job did not finish")


def test_ingest_job_reports_progress_and_failures(make_api, tmp_path):
    root = tmp_path / "allowed"
    new = write_docs(root / "more", {"rivers.md": "# Rivers\n\nThe Seine flows through Paris.\n"})
    (new / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a real pdf")
    api = make_api(server={"allowed_roots": [root]})
    response = api.client.post("/v1/ingest", json={"path": "more"})
    assert response.status_code == 202 and response.headers["location"].startswith("/v1/jobs/")
    job = _wait_job(api.client, response.json()["id"])
    assert job["status"] == "done" and job["files_total"] == 2 and job["files_done"] == 2
    assert job["chunks_written"] >= 1
    assert [f["path"] for f in job["failures"]] == ["broken.pdf"] and job["failures"][0]["reason"]
    hits = api.client.post("/v1/retrieve", json={"query": "Seine river"}).json()["hits"]
    assert hits[0]["source"] == "rivers.md"
    assert_error(api.client.get("/v1/jobs/nope"), 404, "not_found")


def test_ingest_path_confinement(make_api, tmp_path):
    root = tmp_path / "allowed"
    inside = write_docs(root / "inside", {"a.md": "# A\n\nalpha\n"})
    outside = write_docs(tmp_path / "outside", {"secret.md": "# Secret\n\nthe launch code is 1234\n"})
    (root / "escape").symlink_to(outside, target_is_directory=True)
    (inside / "leak.md").symlink_to(outside / "secret.md")
    api = make_api(server={"allowed_roots": [root]})
    for path in ["../outside", str(outside), str(root / "inside" / ".." / ".." / "outside"), "escape", "/etc"]:
        assert_error(api.client.post("/v1/ingest", json={"path": path}), 403, "forbidden")
    assert_error(api.client.post("/v1/ingest", json={"path": "missing"}), 404, "not_found")
    job = _wait_job(api.client, api.client.post("/v1/ingest", json={"path": str(inside)}).json()["id"])
    assert job["status"] == "done"
    sources = {d["source"] for d in api.client.get("/v1/documents").json()["documents"]}
    assert "a.md" in sources and "leak.md" not in sources  # a symlinked file out of the root is not read


def test_ingest_is_off_without_allowed_roots(make_api, tmp_path):
    api = make_api()
    error = assert_error(api.client.post("/v1/ingest", json={"path": str(tmp_path)}), 403, "forbidden")
    assert "FOLDRAG_ALLOWED_ROOTS" in error["message"]


# --- documents and collections -----------------------------------------------------------------------

def test_upload_list_and_delete_documents(make_api, tmp_path):
    api = make_api(server={"upload_max_mb": 0.01, "allowed_roots": [tmp_path]})
    c = api.client
    up = c.post("/v1/documents", files={"file": ("notes.md", b"# Notes\n\nThe kimchi recipe needs napa cabbage.\n")})
    assert up.status_code == 201, up.text
    doc = up.json()
    assert doc["source"] == "upload://notes.md" and doc["uploaded"] and doc["chunks"] >= 1
    assert c.post("/v1/retrieve", json={"query": "kimchi cabbage"}).json()["hits"][0]["source"] == "upload://notes.md"
    listed = {d["source"]: d for d in c.get("/v1/documents").json()["documents"]}
    assert set(listed) == {"france.md", "fusion.md", "korea.md", "upload://notes.md"}

    # a folder ingest mirrors its folder but leaves uploads alone
    job = _wait_job(c, c.post("/v1/ingest", json={"path": str(tmp_path / "docs")}).json()["id"])
    assert job["summary"]["removed"] == 0
    assert "upload://notes.md" in {d["source"] for d in c.get("/v1/documents").json()["documents"]}

    gone = c.delete(f"/v1/documents/{doc['id']}")
    assert gone.status_code == 200 and gone.json()["deleted"] is True
    assert all(h["source"] != "upload://notes.md" for h in c.post("/v1/retrieve", json={"query": "kimchi cabbage"}).json()["hits"])
    assert_error(c.delete(f"/v1/documents/{doc['id']}"), 404, "not_found")


def test_upload_errors(make_api):
    api = make_api(server={"upload_max_mb": 0.01})
    c = api.client
    assert_error(c.post("/v1/documents", files={"file": ("virus.exe", b"MZ...")}), 415, "unsupported_type")
    assert_error(c.post("/v1/documents", files={"file": ("big.txt", b"word " * 5000)}), 413, "too_large")
    error = assert_error(c.post("/v1/documents", files={"file": ("broken.pdf", b"%PDF-1.4 garbage")}), 400, "invalid_input")
    assert "broken.pdf" in error["message"]
    assert_error(c.post("/v1/documents", files={"file": (".hidden.md", b"# x\n\ny\n")}), 400, "invalid_input")
    assert_error(c.post("/v1/documents"), 400, "invalid_input")
    assert_error(c.post("/v1/documents", data={"collection": "nope"}, files={"file": ("a.md", b"# a\n\nb\n")}), 404, "not_found")


def test_collections_describe_their_index(make_api):
    api = make_api()
    [info] = api.client.get("/v1/collections").json()["collections"]
    assert info["name"] == "docs" and info["indexed"] and info["documents"] == 3 and info["chunks"] >= 3


def test_openapi_docs_are_served(make_api):
    api = make_api()
    paths = api.client.get("/openapi.json").json()["paths"]
    assert {"/v1/query", "/v1/retrieve", "/v1/chat/completions", "/v1/ingest", "/v1/documents"} <= set(paths)
    assert api.client.get("/docs").status_code == 200


def test_openai_stream_appends_the_extractive_replacement_and_flags_only_sent_markers(make_api):
    api = make_api()
    api.chat.reply = "Bananas are yellow and grow fast."
    response = api.client.post("/v1/chat/completions", json={
        "model": "docs", "stream": True,
        "messages": [{"role": "user", "content": "What is the capital of France?"}]})
    chunks = [json.loads(line[len("data: "):]) for line in response.text.splitlines()
              if line.startswith("data: {")]
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    last = chunks[-1]
    # the evidence comes first, in foldrag's field of an empty chunk, before any content
    first_content = next(i for i, c in enumerate(chunks) if c["choices"][0]["delta"].get("content"))
    evidence_at = next(i for i, c in enumerate(chunks) if "foldrag" in c)
    assert evidence_at < first_content and chunks[evidence_at]["choices"][0]["delta"] == {"content": ""}
    assert chunks[evidence_at]["foldrag"]["evidence"][0]["source"] == "france.md"
    assert last["citation_method"] == "evidence"
    assert content.startswith("Bananas are yellow and grow fast.\n\n") and "[1]" in content
    assert last["citations"] == ["france.md"]
    for result in last["search_results"]:
        assert result["cited"] == (result["citation"] is not None)
        assert result["cited"] == (f"[{result['citation']}]" in content), "cited means: its marker was sent"


HOSTILE_TEXTS = ["\ud800 GPU", "a\x00b", "\udfff", "x" * 200_000, ""]
JSON_ROUTES = [
    ("/v1/retrieve", lambda t: {"query": t}),
    ("/v1/query", lambda t: {"question": t}),
    ("/v1/query", lambda t: {"question": "ok?", "history": [{"role": "user", "content": t}]}),
    ("/v1/query", lambda t: {"question": t, "stream": True}),
    ("/v1/chat/completions", lambda t: {"model": "docs", "messages": [{"role": "user", "content": t}]}),
    ("/v1/chat/completions", lambda t: {"model": "docs", "messages": [{"role": "user", "content": [{"type": "text", "text": t}]}]}),
    ("/v1/ingest", lambda t: {"path": t}),
]


@pytest.mark.parametrize("route, body", JSON_ROUTES)
def test_hostile_text_is_a_4xx_without_exception_text(make_api, route, body):
    api = make_api()
    for text in HOSTILE_TEXTS:
        raw = json.dumps(body(text))  # json.dumps writes a lone surrogate as its \\u escape, as a client would
        response = api.client.post(route, content=raw, headers={"Content-Type": "application/json"})
        assert response.status_code < 500, (route, text[:20], response.text[:300])
        assert "Traceback" not in response.text and "Error:" not in response.text
        if text in ("\ud800 GPU", "a\x00b", "\udfff"):
            error = assert_error(response, 400, "invalid_input")
            assert "lone surrogate" in error["message"] or "NUL" in error["message"]


def test_a_nul_in_a_path_value_is_a_400_like_one_in_a_body(make_api):
    api = make_api()
    for path in ("/v1/passages/%00", "/v1/documents/abc%00def/text", "/v1/uploads/a%00.txt"):
        method = "PUT" if "uploads" in path else "GET"
        error = assert_error(api.client.request(method, path, content=b"x" if method == "PUT" else None),
                             400, "invalid_input")
        assert "NUL" in error["message"], path


def test_a_bug_never_shows_its_text(make_api):
    api = make_api()

    def broken(*args, **kwargs):
        raise RuntimeError("secret /home/me/.ssh path")

    api.rag.retrieve = broken
    client = TestClient(api.client.app, raise_server_exceptions=False)
    response = client.post("/v1/retrieve", json={"query": "anything"})
    error = assert_error(response, 500, "internal")
    assert "secret" not in response.text and "RuntimeError" not in response.text and "server log" in error["message"]
