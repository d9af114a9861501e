"""Collections made and deleted in the web app: over a folder inside the allowed roots, ingested as
a job, served again after a restart; only a server-wide admin key makes or deletes one, and only one
made this way can be deleted."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from foldrag.api.app import create_app
from tests.fakes import HashEmbedder, LoopChat
from tests.server_support import fake_builder, make_collection, serve_settings, wait_ready, write_docs
from tests.test_api import assert_error, sse_events


@pytest.fixture
def served(tmp_path, settings):
    made = []

    def make(**server):
        cfg = serve_settings(settings, allowed_roots=[tmp_path / "roots"], **server)
        embedder, chat = HashEmbedder(), LoopChat()
        rag = make_collection(cfg, embedder, chat, write_docs(tmp_path / "docs"))
        client = TestClient(create_app(cfg, {"docs": rag}, builder=fake_builder(cfg, embedder, chat)))
        client.__enter__()
        made.append(client)
        wait_ready(client)
        return client, cfg

    yield make
    for client in made:
        client.__exit__(None, None, None)


def _job_end(client, job):
    while job["status"] not in ("done", "failed"):
        job = client.get(f"/v1/jobs/{job['id']}").json()
    return job


def test_a_collection_made_over_a_folder_is_ingested_served_and_deleted(served, tmp_path):
    client, cfg = served()
    notes = write_docs(tmp_path / "roots" / "hr", {"leave.md": "# 휴가\n\n병가는 30일이다.\n"})
    job = client.post("/v1/collections", json={"name": "인사-hr", "path": str(notes)})
    assert job.status_code == 202
    assert _job_end(client, job.json())["status"] == "done"
    listed = {c["name"]: c for c in client.get("/v1/collections").json()["collections"]}
    assert listed["인사-hr"]["documents"] == 1 and listed["인사-hr"]["removable"] is True
    assert listed["docs"]["removable"] is False
    hits = client.post("/v1/retrieve", json={"query": "병가", "collection": "인사-hr"}).json()["hits"]
    assert hits[0]["source"] == "leave.md"
    index = cfg.server.collections_dir / "인사-hr"
    assert index.is_dir()

    # served again by a new server over the same settings (no models load until asked)
    again = create_app(cfg)
    assert set(again.state.foldrag.collections) == {"index", "인사-hr"}

    assert client.delete("/v1/collections/인사-hr").json() == {"name": "인사-hr", "deleted": True}
    assert not index.exists() and notes.joinpath("leave.md").exists()  # the index goes, the documents stay
    assert "인사-hr" not in {c["name"] for c in client.get("/v1/collections").json()["collections"]}
    assert_error(client.delete("/v1/collections/docs"), 403, "forbidden")  # from the settings


@pytest.mark.parametrize("body,status,kind", [
    ({"name": "docs", "path": "hr"}, 400, "invalid_input"),        # taken
    ({"name": "../up", "path": "hr"}, 400, "invalid_input"),       # not a name
    ({"name": "new", "path": "/etc"}, 403, "forbidden"),           # outside the allowed roots
    ({"name": "new", "path": "../docs"}, 403, "forbidden"),
])
def test_a_new_collection_needs_a_free_plain_name_and_an_allowed_folder(served, tmp_path, body, status, kind):
    client, _ = served()
    write_docs(tmp_path / "roots" / "hr")
    assert_error(client.post("/v1/collections", json=body), status, kind)


def test_only_a_server_wide_admin_key_makes_or_deletes_collections(served, tmp_path):
    from foldrag.core.settings import CollectionKeys

    client, _ = served(api_keys=["admin"], query_keys=["page"],
                       collection_keys={"docs": CollectionKeys(api_keys=["docs-admin"])})
    write_docs(tmp_path / "roots" / "hr")
    body = {"name": "hr", "path": "hr"}
    for key in ("page", "docs-admin"):
        response = client.post("/v1/collections", json=body, headers={"authorization": f"Bearer {key}"})
        assert response.status_code == 403, key
        response = client.delete("/v1/collections/docs", headers={"authorization": f"Bearer {key}"})
        assert response.status_code == 403, key
    made = client.post("/v1/collections", json=body, headers={"authorization": "Bearer admin"})
    assert made.status_code == 202
    assert client.post("/v1/collections", json=body, headers={"origin": "https://evil.example",
                                                               "authorization": "Bearer admin"}).status_code == 403


def test_one_question_asks_several_collections_and_each_citation_names_its_own(served, tmp_path):
    client, _ = served()
    notes = write_docs(tmp_path / "roots" / "hr", {"leave.md": "# 휴가\n\n병가는 30일이다.\n"})
    _job_end(client, client.post("/v1/collections", json={"name": "hr", "path": str(notes)}).json())
    body = client.post("/v1/query", json={"question": "병가 capital of France", "collections": ["docs", "hr"],
                                          "k": 4}).json()
    assert body["collection"] == "docs,hr"
    sources = client.post("/v1/query", json={"question": "병가 capital of France", "collections": ["docs", "hr"],
                                             "stream": True}).text
    named = {s["source"]: s["collection"] for kind, data in sse_events(sources) if kind == "sources"
             for s in data["sources"]}
    assert named["leave.md"] == "hr" and named["france.md"] == "docs"
    assert_error(client.post("/v1/query", json={"question": "x?", "collections": ["docs", "nope"]}), 404, "not_found")
