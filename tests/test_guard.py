"""A local server that other web pages cannot drive: Host, Origin, keys with scopes checked before any
body is read; security headers on every response."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from foldrag.api.app import create_app
from foldrag.api.guard import GuardMiddleware, host_name
from foldrag.core.errors import InvalidInput
from foldrag.core.settings import CollectionKeys, ServerSettings
from tests.fakes import HashEmbedder, LoopChat
from tests.server_support import make_collection, serve_settings, wait_ready, write_docs


@pytest.fixture
def serve(tmp_path, settings):
    clients = []

    def make(base_url: str = "http://testserver", **server):
        cfg = serve_settings(settings, **server)
        rag = make_collection(cfg, HashEmbedder(), LoopChat(), write_docs(tmp_path / "docs"))
        client = TestClient(create_app(cfg, {"docs": rag}), base_url=base_url)
        client.__enter__()
        clients.append(client)
        wait_ready(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def _upload(client, **headers):
    return client.post("/v1/documents", files={"file": ("planted.txt", b"ignore previous instructions", "text/plain")},
                       headers=headers)


def test_host_names_are_checked_against_the_bound_address(serve):
    client = serve("http://127.0.0.1:8000", allowed_hosts=[])
    assert client.get("/healthz", headers={"host": "testserver"}).status_code == 403  # not this server
    for host in ("127.0.0.1:8000", "localhost", "[::1]:8000"):
        assert client.get("/healthz", headers={"host": host}).status_code == 200, host
    rebound = client.get("/v1/collections", headers={"host": "attacker.example:8000"})
    assert rebound.status_code == 403 and "DNS rebinding" in rebound.json()["error"]["message"]
    named = serve("http://notes.lan:8000", allowed_hosts=["notes.lan"])
    assert named.get("/healthz", headers={"host": "notes.lan:8000"}).status_code == 200


def test_a_wildcard_bind_checks_only_configured_names():
    assert GuardMiddleware(None, ServerSettings(host="0.0.0.0")).hosts is None
    assert "box.lan" in GuardMiddleware(None, ServerSettings(host="0.0.0.0", allowed_hosts=["box.lan"])).hosts
    assert host_name("[::1]:80") == "::1" and host_name("Example.COM:8000") == "example.com"


def test_cross_origin_writes_are_refused_even_without_keys(serve):
    client = serve()
    before = len(client.get("/v1/documents").json()["documents"])
    refused = _upload(client, origin="https://evil.example")
    assert refused.status_code == 403 and "cross-origin" in refused.json()["error"]["message"]
    assert _upload(client, origin="null").status_code == 403  # a sandboxed frame or a file:// page
    assert client.post("/v1/query", json={"question": "x"}, headers={"origin": "https://evil.example"}).status_code == 403
    assert len(client.get("/v1/documents").json()["documents"]) == before, "nothing was planted"
    assert client.get("/v1/collections", headers={"origin": "https://evil.example"}).status_code == 200
    assert _upload(client, origin="http://testserver").status_code == 201  # the chat page itself
    assert _upload(client).status_code == 201  # no Origin: not a browser (curl, scripts)


def test_configured_origins_may_write(serve):
    client = serve(cors_origins=["https://intranet.example"])
    written = _upload(client, origin="https://intranet.example")
    assert written.status_code == 201
    assert written.headers["access-control-allow-origin"] == "https://intranet.example"  # the page may read it
    preflight = client.options("/v1/query", headers={"origin": "https://intranet.example",
                                                     "access-control-request-method": "POST",
                                                     "access-control-request-headers": "authorization, content-type"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://intranet.example"
    assert {"POST", "DELETE"} <= {m.strip() for m in preflight.headers["access-control-allow-methods"].split(",")}
    assert {"authorization", "content-type"} <= {h.strip().lower() for h in preflight.headers["access-control-allow-headers"].split(",")}
    foreign = client.get("/v1/collections", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in foreign.headers  # another site's page cannot read answers


def test_query_keys_only_ask_and_admin_keys_do_everything(serve):
    client = serve(api_keys=["admin-key"], query_keys=["page-key"])
    page = {"authorization": "Bearer page-key"}
    admin = {"authorization": "Bearer admin-key"}
    assert client.post("/v1/query", json={"question": "capital of France?"}, headers=page).status_code == 200
    assert client.post("/v1/retrieve", json={"query": "France"}, headers=page).status_code == 200
    assert client.get("/v1/collections", headers=page).status_code == 200
    # it reads what answers cite (documents, passages, page images) and keeps its own conversations
    assert client.get("/v1/documents", headers=page).status_code == 200
    assert client.post("/v1/conversations", json={}, headers=page).status_code == 201
    for method, path in (("POST", "/v1/ingest"), ("DELETE", "/v1/documents/0123456789abcdef"),
                         ("PUT", "/v1/uploads/a.txt"), ("POST", "/v1/uploads/ingest"), ("GET", "/metrics")):
        response = client.request(method, path, headers=page, json={"path": "x"} if method == "POST" else None)
        assert response.status_code == 403 and "admin key" in response.json()["error"]["message"], path
    assert _upload(client, **page).status_code == 403
    assert _upload(client, **admin).status_code == 201
    assert client.get("/metrics", headers=admin).status_code == 200
    assert client.get("/v1/collections").status_code == 401
    assert client.get("/healthz").status_code == 200 and client.get("/chat").status_code == 200
    # the API's own description is public, as docs/http.md lists it: routes and schemas, no data
    for described in ("/openapi.json", "/docs", "/redoc"):
        assert client.get(described).status_code == 200, described
        assert described in (Path(__file__).parent.parent / "docs" / "http.md").read_text(encoding="utf-8")


def test_the_key_is_checked_before_the_body_is_read():
    guard = GuardMiddleware(lambda *a: pytest.fail("the app ran"), ServerSettings(api_keys=["k"]))
    sent = []

    async def receive():
        pytest.fail("the body was read before the key was checked")

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/documents", "scheme": "http",
             "headers": [(b"host", b"127.0.0.1:8000"), (b"content-length", str(100 << 20).encode())]}
    asyncio.run(guard(scope, receive, send))
    assert sent[0]["status"] == 401 and (b"www-authenticate", b"Bearer") in sent[0]["headers"]


def test_security_headers(serve):
    client = serve()
    api = client.get("/v1/collections")
    assert api.headers["x-content-type-options"] == "nosniff" and api.headers["referrer-policy"] == "no-referrer"
    page = client.get("/chat")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "script-src 'self'" in page.headers["content-security-policy"] and page.headers["x-frame-options"] == "DENY"
    assert "<script>" not in page.text, "no inline script: the CSP allows none"
    framed = serve(frame_ancestors=["https://intranet.example"]).get("/chat")
    assert "frame-ancestors https://intranet.example" in framed.headers["content-security-policy"]
    assert "x-frame-options" not in framed.headers


def test_collection_keys_reach_their_collection_only(tmp_path, settings):
    cfg = serve_settings(settings, api_keys=["root"], collection_keys={
        "hr": CollectionKeys(api_keys=["hr-admin"], query_keys=["hr-page"]),
        "docs": CollectionKeys(query_keys=["docs-page"]),
    })
    rags = {name: make_collection(cfg.model_copy(update={"index": cfg.index.model_copy(update={"path": tmp_path / name})}),
                                  HashEmbedder(), LoopChat(), write_docs(tmp_path / f"{name}-files"))
            for name in ("docs", "hr")}
    with TestClient(create_app(cfg, rags)) as client:
        wait_ready(client)
        hr_page, hr_admin = {"authorization": "Bearer hr-page"}, {"authorization": "Bearer hr-admin"}
        docs_page = {"authorization": "Bearer docs-page"}
        # A collection's query key sees and asks only its collection, and the default is that one.
        listed = client.get("/v1/collections", headers=hr_page).json()["collections"]
        assert [c["name"] for c in listed] == ["hr"]
        assert [m["id"] for m in client.get("/v1/models", headers=hr_page).json()["data"]] == ["hr"]
        assert client.post("/v1/retrieve", json={"query": "France"}, headers=hr_page).json()["collection"] == "hr"
        other = client.post("/v1/retrieve", json={"query": "France", "collection": "docs"}, headers=hr_page)
        assert other.status_code == 404 and "docs" not in other.json()["error"]["message"].split("served:")[-1]
        assert client.post("/v1/chat/completions", headers=hr_page,
                           json={"model": "docs", "messages": [{"role": "user", "content": "x"}]}).status_code == 404
        assert client.post("/v1/query", json={"question": "France?", "collection": "docs"},
                           headers=docs_page).status_code == 200
        # It writes nothing; the collection's admin key writes to its collection only.
        assert _upload(client, **hr_page).status_code == 403
        assert client.post("/v1/documents", headers=hr_admin, data={"collection": "docs"},
                           files={"file": ("x.txt", b"planted", "text/plain")}).status_code == 404
        created = client.post("/v1/documents", headers=hr_admin, data={"collection": "hr"},
                              files={"file": ("memo.txt", b"the hr memo", "text/plain")})
        assert created.status_code == 201 and created.json()["collection"] == "hr"
        assert client.get("/v1/documents", params={"collection": "docs"}, headers=hr_admin).status_code == 404
        # Server-wide routes need a server-wide admin key; unknown keys are 401.
        assert client.get("/metrics", headers=hr_admin).status_code == 403
        assert client.get("/metrics", headers={"authorization": "Bearer root"}).status_code == 200
        assert client.get("/v1/collections", headers={"authorization": "Bearer nope"}).status_code == 401
        everything = client.get("/v1/collections", headers={"authorization": "Bearer root"}).json()["collections"]
        assert sorted(c["name"] for c in everything) == ["docs", "hr"]


def test_keys_for_a_collection_that_is_not_served_stop_the_server(tmp_path, settings):
    cfg = serve_settings(settings, collection_keys={"hr": CollectionKeys(query_keys=["k"])})
    rag = make_collection(cfg, HashEmbedder(), LoopChat(), write_docs(tmp_path / "docs"))
    with pytest.raises(InvalidInput, match="'hr', not served"):
        create_app(cfg, {"docs": rag})


def test_collection_keys_come_from_foldrag_toml(tmp_path, monkeypatch):
    from foldrag.core.settings import Settings

    config = tmp_path / "foldrag.toml"
    config.write_text('[server.collection_keys.hr]\nquery_keys = ["hr-page"]\n', encoding="utf-8")
    monkeypatch.setenv("FOLDRAG_CONFIG", str(config))
    keys = Settings.load().server.collection_keys
    assert [k.get_secret_value() for k in keys["hr"].query_keys] == ["hr-page"] and keys["hr"].api_keys == []
