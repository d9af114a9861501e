"""The routes the web app stands on: uploads as a job, the source view (passage, page image, text),
conversations kept per key, what a changed or escaped file shows, and the server's rules on them."""

from __future__ import annotations

import io
import os

import pytest

from foldrag.collection.originals import Originals
from tests.docs_factory import write_pdf
from tests.fakes import LoopChat
from tests.test_api import assert_error, make_api, sse_events  # noqa: F401  (make_api is a fixture)


def _job_end(client, job: dict) -> dict:
    while job["status"] not in ("done", "failed"):  # the runner thread moves it; each poll is one read
        job = client.get(f"/v1/jobs/{job['id']}").json()
    return job


def _upload(client, name: str, data: bytes, **params):
    return client.put(f"/v1/uploads/{name}", content=data, params=params)


def test_uploads_are_kept_then_indexed_by_a_job_with_progress_and_reasons(make_api, tmp_path):
    api = make_api()
    pdf = write_pdf(tmp_path / "atlas.pdf", ["Lisbon is the capital of Portugal.", "Madrid is the capital of Spain."])
    assert _upload(api.client, "atlas.pdf", pdf.read_bytes()).json() == {"collection": "docs", "name": "atlas.pdf",
                                                                         "size": pdf.stat().st_size}
    assert _upload(api.client, "broken.pdf", b"%PDF-1.4 not really").status_code == 201
    job = api.client.post("/v1/uploads/ingest", json={"names": ["atlas.pdf", "broken.pdf"]})
    assert job.status_code == 202 and job.headers["location"] == f"/v1/jobs/{job.json()['id']}"
    done = _job_end(api.client, job.json())
    assert done["status"] == "done" and done["files_total"] == 2 and done["files_done"] == 2
    assert done["summary"]["added"] == 1 and done["elapsed_s"] >= 0
    assert [f["path"] for f in done["failures"]] == ["upload://broken.pdf"]
    assert "corrupt PDF" in done["failures"][0]["reason"]
    kept = api.settings.index.path / "uploads"
    assert (kept / "atlas.pdf").exists() and not (kept / "broken.pdf").exists()  # only what was indexed stays
    sources = {d["source"] for d in api.client.get("/v1/inventory").json()["documents"]}
    assert "upload://atlas.pdf" in sources and "france.md" in sources  # the folder's files stay


@pytest.mark.parametrize("name,status,kind,says", [
    (".env", 400, "invalid_input", "plain file name"), ("notes.exe", 415, "unsupported_type", "not accepted"),
    ("a%2F..%2Fb.txt", 404, "not_found", ""),  # a slash in the name is a path no route has
    ("%ED%A0%80.txt", 400, "invalid_input", "not valid UTF-8"),  # invalid UTF-8, as a lone surrogate
    ("p1crlf%0D%0AX-Evil: 1.txt", 400, "invalid_input", "control characters"),
    ("tab%09name.txt", 400, "invalid_input", "control characters"),
    ("invoice%E2%80%AEgpj.txt", 400, "invalid_input", "direction overrides"),  # U+202E: displays as …txt.jpg
    ("%E2%81%A6x%E2%81%A9.txt", 400, "invalid_input", "direction overrides"),  # an isolate
    ("a" * 252 + ".txt", 400, "invalid_input", "the limit is 255"),
    ("가" * 84 + ".txt", 400, "invalid_input", "the limit is 255"),  # 256 bytes in UTF-8
])
def test_an_upload_name_must_be_a_plain_accepted_file_name(make_api, name, status, kind, says):
    api = make_api()
    refused = _upload(api.client, name, b"x")
    assert_error(refused, status, kind)
    assert says in refused.json()["error"]["message"]
    kept = api.settings.index.path / "uploads"
    assert not kept.exists() or list(kept.iterdir()) == [], "nothing is left behind"


def test_the_longest_name_is_kept_and_nfc_and_nfd_spellings_are_one_document(make_api):
    api = make_api()
    longest = "가" * 83 + "ab.txt"  # 255 bytes: the file system's limit, and no temporary name longer
    assert _upload(api.client, longest, b"one").status_code == 201
    nfc, nfd = "caf\u00e9.txt", "cafe\u0301.txt"
    assert _upload(api.client, nfc, b"first").json()["name"] == nfc
    assert _upload(api.client, nfd, b"second").json()["name"] == nfc
    kept = api.settings.index.path / "uploads"
    assert sorted(p.name for p in kept.iterdir()) == sorted([longest, nfc])
    assert (kept / nfc).read_bytes() == b"second"


def test_a_folder_where_the_upload_would_go_is_a_conflict_and_leaves_nothing(make_api):
    api = make_api()
    kept = api.settings.index.path / "uploads"
    (kept / "report.txt").mkdir(parents=True)
    assert_error(_upload(api.client, "report.txt", b"x"), 409, "conflict")
    assert [p.name for p in kept.iterdir()] == ["report.txt"] and (kept / "report.txt").is_dir()


def test_fifty_uploads_of_one_name_at_once_all_land_and_one_whole_file_stays(make_api):
    """Each write has a temporary file of its own: no 5xx, no temporary file left, one whole body kept."""
    from concurrent.futures import ThreadPoolExecutor

    api = make_api()
    bodies = [bytes([65 + n % 26]) * (1000 + n) for n in range(50)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(lambda body: _upload(api.client, "same.txt", body).status_code, bodies))
    assert statuses == [201] * 50
    kept = api.settings.index.path / "uploads"
    assert [p.name for p in kept.iterdir()] == ["same.txt"]
    assert (kept / "same.txt").read_bytes() in bodies


def test_a_job_is_kept_on_disk_with_one_worker_and_answers_after_a_restart(make_api, tmp_path):
    """One server process keeps its jobs' records too (beside the conversations): a restarted
    server still answers GET /v1/jobs/{id} for a job the last one ran."""
    api = make_api()
    assert _upload(api.client, "notes.txt", b"Lisbon is the capital of Portugal.").status_code == 201
    done = _job_end(api.client, api.client.post("/v1/uploads/ingest", json={"names": ["notes.txt"]}).json())
    assert done["status"] == "done"
    again = make_api(ingest=False)  # a second server process on the same folders: a new job runner
    assert again.client.get(f"/v1/jobs/{done['id']}").json()["status"] == "done"


def test_an_upload_over_the_limit_is_refused_before_it_is_kept(make_api):
    api = make_api(server={"upload_max_mb": 0.001})
    assert_error(_upload(api.client, "big.txt", b"x" * 2000), 413, "too_large")
    assert not (api.settings.index.path / "uploads" / "big.txt").exists()


def test_a_cited_pdf_passage_opens_with_its_boxes_and_its_page_image(make_api, tmp_path):
    api = make_api()
    pdf = write_pdf(tmp_path / "atlas.pdf", ["Lisbon is the capital of Portugal. It lies on the Tagus."])
    _upload(api.client, "atlas.pdf", pdf.read_bytes())
    _job_end(api.client, api.client.post("/v1/uploads/ingest", json={"names": ["atlas.pdf"]}).json())
    hits = api.client.post("/v1/retrieve", json={"query": "Lisbon Portugal Tagus", "k": 1}).json()["hits"]
    passage = api.client.get(f"/v1/passages/{hits[0]['id']}").json()
    assert passage["source"] == "upload://atlas.pdf" and passage["page"] == 1
    assert passage["document"]["view"] == "page" and passage["document"]["status"] == "same"
    assert [len(s["boxes"]) for s in passage["spans"]] == [1, 1]  # two sentences, each boxed on page 1
    image = api.client.get(f"/v1/documents/{passage['document']['id']}/pages/1", params={"width": 600})
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    from PIL import Image

    assert Image.open(io.BytesIO(image.content)).size[0] == 600
    assert_error(api.client.get(f"/v1/documents/{passage['document']['id']}/pages/9"), 404, "not_found")


def test_a_text_document_opens_as_its_text_with_the_chunk_placed(make_api):
    api = make_api()
    hit = api.client.post("/v1/retrieve", json={"query": "Eiffel Tower Paris", "k": 1}).json()["hits"][0]
    passage = api.client.get(f"/v1/passages/{hit['id']}").json()
    assert passage["document"]["view"] == "text"
    text = api.client.get(f"/v1/documents/{passage['document']['id']}/text").json()
    [placed] = [c for c in text["chunks"] if c["id"] == hit["id"]]
    assert text["sections"][placed["section"]]["text"][placed["start"]:placed["end"]] == hit["text"]


def test_a_changed_original_is_said_and_shown_as_its_indexed_text(make_api, tmp_path):
    api = make_api()
    pdf = write_pdf(tmp_path / "atlas.pdf", ["Lisbon is the capital of Portugal."])
    _upload(api.client, "atlas.pdf", pdf.read_bytes())
    _job_end(api.client, api.client.post("/v1/uploads/ingest", json={"names": ["atlas.pdf"]}).json())
    (api.settings.index.path / "uploads" / "atlas.pdf").write_bytes(b"%PDF-1.4 something else")
    hit = api.client.post("/v1/retrieve", json={"query": "Lisbon Portugal", "k": 1}).json()["hits"][0]
    doc = api.client.get(f"/v1/passages/{hit['id']}").json()["document"]
    assert (doc["status"], doc["view"]) == ("changed", "text")
    assert_error(api.client.get(f"/v1/documents/{doc['id']}/pages/1"), 404, "not_found")
    os.remove(api.settings.index.path / "uploads" / "atlas.pdf")
    assert api.client.get(f"/v1/passages/{hit['id']}").json()["document"]["status"] == "missing"


def test_an_original_is_never_read_outside_its_folder(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (tmp_path / "secret.txt").write_text("outside", encoding="utf-8")
    os.symlink(tmp_path / "secret.txt", folder / "link.txt")
    originals = Originals(tmp_path / "index")
    from foldrag.core.types import IngestSummary

    originals.record_ingest(folder, IngestSummary())
    assert originals.path_of("../secret.txt") is None
    assert originals.path_of("/etc/passwd") is None
    assert originals.path_of("link.txt") is None  # a link out of the folder
    assert originals.path_of("upload://../secret.txt") is None
    with pytest.raises(ValueError):
        originals.keep_upload("../x.txt", b"x")


def test_conversations_are_kept_with_their_answers_and_owned_by_their_key(make_api):
    api = make_api(server={"api_keys": ["admin"], "query_keys": ["page-a", "page-b"]})
    a = {"authorization": "Bearer page-a"}
    b = {"authorization": "Bearer page-b"}
    made = api.client.post("/v1/conversations", json={}, headers=a).json()
    assert made["title"] == "" and made["collections"] == ["docs"]
    body = api.client.post("/v1/query", json={"question": "What is the capital of France?", "stream": True,
                                              "conversation": made["id"]}, headers=a)
    assert [k for k, _ in sse_events(body.text)][-1] == "done"
    kept = api.client.get(f"/v1/conversations/{made['id']}", headers=a).json()
    assert kept["title"] == "What is the capital of France?"  # named by its first question
    user, assistant = kept["messages"]
    assert (user["role"], user["content"]) == ("user", "What is the capital of France?")
    assert assistant["status"] == "done" and assistant["answer"]["answer"] == "Paris is the capital of France [1]."
    cite = assistant["answer"]["citations"][0]
    assert cite["source"] == "france.md" and cite["support"] and assistant["answer"]["sources"]
    # another key sees none of it
    assert api.client.get("/v1/conversations", headers=b).json() == {"conversations": []}
    assert_error(api.client.get(f"/v1/conversations/{made['id']}", headers=b), 404, "not_found")
    assert_error(api.client.post("/v1/query", json={"question": "x?", "conversation": made["id"]}, headers=b),
                 404, "not_found")
    assert api.client.patch(f"/v1/conversations/{made['id']}", json={"title": "파리"}, headers=a).json()["title"] == "파리"
    assert [c["title"] for c in api.client.get("/v1/conversations", headers=a).json()["conversations"]] == ["파리"]
    assert api.client.delete(f"/v1/conversations/{made['id']}", headers=a).json()["deleted"] is True
    assert api.client.get("/v1/conversations", headers=a).json() == {"conversations": []}


def test_a_stopped_answer_is_kept_as_stopped_with_what_was_written(settings, tmp_path):
    import httpx

    from foldrag.api.app import create_app
    from tests.fakes import HashEmbedder
    from tests.server_support import live_server, make_collection, serve_settings, until, write_docs

    chat = LoopChat("word " * 4, piece=5, endless=True)  # only a cancellation ends it
    cfg = serve_settings(settings)
    app = create_app(cfg, {"docs": make_collection(cfg, HashEmbedder(), chat, write_docs(tmp_path / "docs"))})
    with live_server(app) as url:
        assert until(lambda: httpx.get(url + "/readyz").status_code == 200)
        made = httpx.post(url + "/v1/conversations", json={}).json()
        with httpx.stream("POST", url + "/v1/query", json={"question": "capital of France?", "stream": True,
                                                          "conversation": made["id"]}, timeout=30) as response:
            for line in response.iter_lines():
                if line.startswith("event: token"):
                    break  # the person pressed stop after the first words
        assert chat.cancelled.wait(10)  # the generation was stopped on the server

        def kept():
            return httpx.get(f"{url}/v1/conversations/{made['id']}").json()["messages"]

        assert until(lambda: len(kept()) == 2)
        user, assistant = kept()
        assert (user["role"], assistant["role"], assistant["status"]) == ("user", "assistant", "stopped")
        assert assistant["content"].startswith("word") and assistant["answer"]["sources"]


def test_new_writes_keep_the_origin_rule_and_never_show_exception_text(make_api):
    api = make_api()
    other = {"origin": "https://evil.example"}
    for method, path in (("PUT", "/v1/uploads/a.txt"), ("POST", "/v1/conversations"),
                         ("PATCH", "/v1/conversations/x"), ("DELETE", "/v1/conversations/x"),
                         ("POST", "/v1/uploads/ingest")):
        response = api.client.request(method, path, headers=other, content=b"{}")
        assert_error(response, 403, "forbidden")
    for path in ("/v1/passages/nope", "/v1/documents/nope/text", "/v1/documents/nope/pages/1",
                 "/v1/conversations/nope"):
        error = assert_error(api.client.get(path), 404, "not_found")
        assert "Traceback" not in error["message"] and "Error" not in error["message"]


def test_the_app_and_its_files_are_served_with_the_content_security_policy(make_api):
    api = make_api(server={"api_keys": ["admin"]})
    page = api.client.get("/")  # keyless: the page holds no data
    assert page.status_code == 200 and '<script type="module" src="/app/main.js">' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for name in ("main.js", "store.js", "i18n.js", "app.css", "vendor/marked.umd.js", "vendor/purify.min.js"):
        assert api.client.get(f"/app/{name}").status_code == 200, name
    for name in ("vendor/LICENSE.marked", "missing.js", "%2e%2e/state.py"):
        assert api.client.get(f"/app/{name}").status_code == 404, name
    assert_error(api.client.get("/v1/conversations"), 401, "unauthorized")  # what it calls needs the key


def test_an_index_from_before_origins_opens_in_the_text_view(make_api):
    """An index ingested before foldrag recorded its folder cannot show the original yet: its
    passages open as indexed text, and the next ingest records the folder."""
    api = make_api()
    (api.settings.index.path / "origin.json").unlink()
    hit = api.client.post("/v1/retrieve", json={"query": "Eiffel Tower Paris", "k": 1}).json()["hits"][0]
    doc = api.client.get(f"/v1/passages/{hit['id']}").json()["document"]
    assert (doc["status"], doc["view"]) == ("unrecorded", "text")
    api.rag.ingest(api.tmp / "docs")
    assert api.client.get(f"/v1/passages/{hit['id']}").json()["document"]["status"] == "same"
