"""The API on a real uvicorn on loopback: the official openai client, disconnects, back-pressure,
queries during an ingest, and the chat widget in headless Chromium."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest

from foldrag.api.app import create_app
from tests.fakes import HashEmbedder, LoopChat
from tests.server_support import live_server, make_collection, serve_settings, until, write_docs


def _app(settings, tmp_path: Path, chat: LoopChat, embedder=None, **server):
    cfg = serve_settings(settings, **server)
    rag = make_collection(cfg, embedder or HashEmbedder(), chat, write_docs(tmp_path / "docs"))
    return create_app(cfg, {"docs": rag})


def _ready(url: str) -> None:
    assert until(lambda: httpx.get(url + "/readyz").status_code == 200), "not ready"


def test_official_openai_client_both_modes(settings, tmp_path):
    openai = pytest.importorskip("openai")
    with live_server(_app(settings, tmp_path, LoopChat(), api_keys=["sk-local"])) as url:
        _ready(url)
        client = openai.OpenAI(base_url=url + "/v1", api_key="sk-local", max_retries=0)
        assert [m.id for m in client.models.list()] == ["docs"]

        reply = client.chat.completions.create(
            model="docs", messages=[{"role": "user", "content": "What is the capital of France?"}])
        assert reply.choices[0].message.content == "Paris is the capital of France [1]."
        extra = reply.model_extra
        assert extra["citations"][0] == "france.md"
        assert extra["search_results"][0]["source"] == "france.md" and extra["search_results"][0]["cited"]

        chunks = list(client.chat.completions.create(
            model="docs", stream=True, messages=[{"role": "user", "content": "What is the capital of France?"}]))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == "Paris is the capital of France [1]."
        assert len(chunks) > 3
        last = chunks[-1]
        assert last.choices[0].finish_reason == "stop"
        assert last.model_extra["citations"][0] == "france.md"
        assert last.model_extra["search_results"][0]["n"] == 1

        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi"}])
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=url + "/v1", api_key="wrong", max_retries=0).models.list()


def test_a_client_that_disconnects_cancels_its_generation(settings, tmp_path):
    chat = LoopChat("word " * 4, piece=5, endless=True)  # only a cancellation ends it
    app = _app(settings, tmp_path, chat)
    with live_server(app) as url:
        _ready(url)
        # streaming: read the first token, then hang up
        with httpx.stream("POST", url + "/v1/query", json={"question": "capital of France?", "stream": True},
                          timeout=30) as response:
            for line in response.iter_lines():
                if line.startswith("event: token"):
                    break
        assert chat.cancelled.wait(10), "generation went on after the client left"
        assert chat.finished == 0

        # non-streaming: the client gives up while the answer is generated
        chat.cancelled.clear()
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(url + "/v1/query", json={"question": "capital of France?"}, timeout=1.0)
        assert chat.cancelled.wait(10)
        assert chat.finished == 0
        gate = app.state.foldrag.gate
        assert until(lambda: gate.running == 0 and gate.waiting == 0), "the slot is given back"
        assert "foldrag_generations_cancelled_total 2.0" in httpx.get(url + "/metrics").text


def test_a_full_queue_answers_429_with_retry_after(settings, tmp_path):
    hold = threading.Event()
    chat = LoopChat("word " * 20, piece=5, hold=hold)  # each generation waits for `hold` after its first piece
    app = _app(settings, tmp_path, chat, max_concurrent_generations=1, max_queued_generations=1)
    gate = app.state.foldrag.gate
    with live_server(app) as url:
        _ready(url)
        results: list[int] = []

        def ask():
            results.append(httpx.post(url + "/v1/query", json={"question": "capital of France?"}, timeout=60).status_code)

        threads = [threading.Thread(target=ask) for _ in range(2)]
        threads[0].start()
        assert chat.started.wait(30), "the first is running"
        threads[1].start()
        assert until(lambda: gate.waiting == 1), "the second is waiting"
        refused = httpx.post(url + "/v1/query", json={"question": "capital of France?"}, timeout=60)
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["error"]["type"] == "overloaded"
        streamed = httpx.post(url + "/v1/query", json={"question": "q?", "stream": True}, timeout=60)
        assert streamed.status_code == 429  # refused before the stream starts, not as an event
        hold.set()
        for t in threads:
            t.join()
        assert results == [200, 200]
        # retrieval does not use the model, so it is never queued behind generations
        assert httpx.post(url + "/v1/retrieve", json={"query": "Paris"}).status_code == 200


class HeldEmbedder(HashEmbedder):
    """Once ``hold`` is armed, document embedding waits for it to be set: an ingest job stays in
    flight, at a known point, for as long as the test needs. A question's texts (urgent: its
    evidence sentences too) do not wait."""

    def __init__(self) -> None:
        super().__init__()
        self.hold: threading.Event | None = None
        self.waiting = threading.Event()

    def embed(self, texts, *, query=False, urgent=None):
        if self.hold is not None and not (query or urgent):
            self.waiting.set()
            self.hold.wait(60)
        return super().embed(texts, query=query)


def test_queries_answer_from_the_last_index_while_an_ingest_commits(settings, tmp_path):
    root = tmp_path / "allowed"
    big = write_docs(root / "big", {f"note{i:03d}.md": f"# Note {i}\n\nZebra fact number {i}: zebras have stripes.\n"
                                    for i in range(60)})
    shutil.copytree(tmp_path / "docs" if (tmp_path / "docs").exists() else write_docs(tmp_path / "docs"), big,
                    dirs_exist_ok=True)
    embedder = HeldEmbedder()
    app = _app(settings, tmp_path, LoopChat(), embedder=embedder, allowed_roots=[root])
    settings_ingest = app.state.foldrag.collections["docs"].settings.ingest
    object.__setattr__(settings_ingest, "encode_group", 4)  # many small embedding calls
    with live_server(app) as url:
        _ready(url)
        embedder.hold = threading.Event()
        job = httpx.post(url + "/v1/ingest", json={"path": "big"}).json()
        assert embedder.waiting.wait(30), "the job is embedding"

        def ask_all() -> int:
            r = httpx.post(url + "/v1/retrieve", json={"query": "zebras stripes", "k": 3})
            q = httpx.post(url + "/v1/query", json={"question": "What is the capital of France?"}, timeout=30)
            assert (r.status_code, q.status_code) == (200, 200)
            assert q.json()["answer"].startswith("Paris")
            return len(httpx.get(url + "/v1/documents").json()["documents"])

        assert [ask_all() for _ in range(2)] == [3, 3]  # answered from the last committed index during the job
        embedder.hold.set()
        counts = []
        while (state := httpx.get(f"{url}/v1/jobs/{job['id']}").json())["status"] not in ("done", "failed"):
            counts.append(ask_all())
        assert state["status"] == "done", state
        assert set(counts) <= {3, 63}, counts  # the old index or the new one, never a half-written one
        assert ask_all() == 63
        hits = httpx.post(url + "/v1/retrieve", json={"query": "zebras stripes", "k": 3}).json()["hits"]
        assert hits[0]["source"].startswith("note")  # and from the new one once it committed


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="Debian's chromium is not installed (scripts/run.sh test installs it as root)")
def test_chat_widget_streams_an_answer_with_citation_chips(settings, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    hold = threading.Event()  # the answer stops after its first piece until the test has seen it
    chat = LoopChat("Paris is the capital of France [1]. " + "It is on the Seine. " * 6, piece=6, hold=hold)
    with live_server(_app(settings, tmp_path, chat, api_keys=["widget-key"])) as url:
        _ready(url)
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=_chromium(), args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                "--disable-background-networking", "--disable-component-update"])
            page = browser.new_page()
            bodies: list[str] = []
            page.on("request", lambda r: bodies.append(r.post_data or "") if r.url.endswith("/v1/query") else None)
            urls: list[str] = []
            page.on("request", lambda r: urls.append(r.url))
            page.goto(url + "/chat#key=widget-key&collection=docs")  # the fragment never reaches the server
            assert page.text_content("header small") == "· docs"  # the collection it talks to
            page.fill("input[name=q]", "What is the capital of France?")
            page.press("input[name=q]", "Enter")
            # streamed: text shows up while no citation chip exists yet
            page.wait_for_function("""() => {
                const root = document.querySelector('.foldrag-widget').shadowRoot;
                const bot = root.querySelector('.bot .text');
                return bot && bot.textContent.length > 0 && !root.querySelector('.chip');
            }""", timeout=15000)
            hold.set()
            chip = page.wait_for_selector(".chip", timeout=20000)
            assert chip.text_content() == "[1] france.md"
            assert page.text_content(".bot .text").startswith("Paris is the capital of France [1].")
            chip.click()
            assert "Paris" in page.text_content(".snippet")

            page.fill("input[name=q]", "And its river?")
            page.press("input[name=q]", "Enter")
            page.wait_for_function("() => document.querySelector('.foldrag-widget').shadowRoot"
                                   ".querySelectorAll('.chip').length >= 2", timeout=20000)
            assert '"history": [' in bodies[-1].replace('"history":[', '"history": [')
            assert "What is the capital of France?" in bodies[-1]  # the conversation is kept
            assert urls and not any("widget-key" in u for u in urls), "the key is never in a URL (or a log)"
            browser.close()


@pytest.mark.slow
def test_foldrag_serve_command(tmp_path):
    """`foldrag serve` end to end: a real process, the bundled embedder, two collections named after folders."""
    import os
    import socket
    import subprocess
    import sys

    from tests.conftest import REPO, run_cli

    docs = write_docs(tmp_path / "docs")
    for name in ("notes", "papers"):
        assert run_cli("ingest", str(docs), "--index", str(tmp_path / name), "-q").returncode == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLDRAG_")}
    env.update(FOLDRAG_GENERATION__MODEL="none", FOLDRAG_API_KEYS="k", FOLDRAG_CONFIG=str(tmp_path / "none.toml"))
    server = subprocess.Popen([sys.executable, "-m", "foldrag.cli", "serve", "--index", str(tmp_path / "notes"),
                               "--index", str(tmp_path / "papers"), "--port", str(port)],
                              cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(url + "/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, server.stdout.read()
            time.sleep(0.1)
        auth = {"Authorization": "Bearer k"}
        assert [c["name"] for c in httpx.get(url + "/v1/collections", headers=auth).json()["collections"]] == ["notes", "papers"]
        hits = httpx.post(url + "/v1/retrieve", json={"query": "Eiffel Tower", "collection": "papers"}, headers=auth).json()["hits"]
        assert hits[0]["source"] == "france.md"
        # generation.model = none: answering is a clear 503, not a crash
        error = httpx.post(url + "/v1/query", json={"question": "Eiffel Tower?"}, headers=auth)
        assert error.status_code == 503 and error.json()["error"]["type"] == "model_unavailable"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_collections_are_named_after_their_folders(tmp_path, settings):
    from foldrag.build import collection_paths
    from foldrag.core.errors import InvalidInput

    assert collection_paths(settings, [tmp_path / "a", tmp_path / "b"]) == {"a": tmp_path / "a", "b": tmp_path / "b"}
    assert collection_paths(settings) == {"index": settings.index.path}
    named = settings.model_copy(update={"server": settings.server.model_copy(update={"collections": {"x": tmp_path}})})
    assert collection_paths(named) == {"x": tmp_path}
    with pytest.raises(InvalidInput):
        collection_paths(settings, [tmp_path / "one" / "same", tmp_path / "two" / "same"])


def test_job_records_let_any_worker_answer_for_a_job(tmp_path):
    """Two workers' job runners share a records folder: one runs the job, the other reports it."""
    from foldrag.api.jobs import JobRunner

    class SlowRag:
        def __init__(self) -> None:
            self.release = threading.Event()

        def ingest(self, folder, progress, within):
            from foldrag.core.types import IngestSummary

            progress.start(3)
            progress.advance(1, 4)
            assert self.release.wait(10)
            progress.advance(2, 6)
            return IngestSummary(added=3, chunks=10)

    records = tmp_path / "jobs"
    records.mkdir()
    running, other = JobRunner(records), JobRunner(records)
    rag = SlowRag()
    job = running.submit("notes", rag, tmp_path, within=())
    assert until(lambda: other.get(job.id).to_json()["files_done"] == 1)
    seen = other.get(job.id)
    assert seen.collection == "notes" and seen.to_json()["status"] == "running"
    assert (seen.to_json()["files_total"], seen.to_json()["chunks_written"]) == (3, 4)
    rag.release.set()
    assert until(lambda: other.get(job.id).to_json()["status"] == "done")
    assert other.get(job.id).to_json()["summary"]["added"] == 3
    for bad in ("../etc/passwd", "0" * 31, "nope"):
        with pytest.raises(Exception, match="no job"):
            other.get(bad)
    running.shutdown()


def test_a_job_whose_server_died_reads_interrupted_after_a_restart_with_what_it_had_done(tmp_path):
    """A job left running by a killed server (its process gone) reads ``interrupted`` when the next
    server starts; a job of a live worker is left alone; a finished one stays as it ended."""
    import json
    import os
    import subprocess
    import sys

    from foldrag.api.jobs import JobRunner, process_id

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone = f"{int(dead.stdout)}:0"  # a process that has exited (a start time no process has)
    records = tmp_path / "jobs"
    records.mkdir()
    jobs = {"a" * 32: ("running", gone), "b" * 32: ("queued", gone), "c" * 32: ("running", process_id(os.getpid())),
            "d" * 32: ("done", gone)}
    for job_id, (status, process) in jobs.items():
        (records / f"{job_id}.json").write_text(json.dumps({
            "id": job_id, "collection": "notes", "status": status, "files_total": 40, "files_done": 12,
            "chunks_written": 96, "process": process, "finished": None, "error": None}))
    runner = JobRunner(records)
    seen = {job_id: runner.get(job_id).to_json() for job_id in jobs}
    assert {job_id: data["status"] for job_id, data in seen.items()} == {
        "a" * 32: "interrupted", "b" * 32: "interrupted", "c" * 32: "running", "d" * 32: "done"}
    assert (seen["a" * 32]["files_done"], seen["a" * 32]["chunks_written"]) == (12, 96)
    assert "run it again" in seen["a" * 32]["error"]["message"] and seen["a" * 32]["finished"]
    runner.shutdown()


@pytest.mark.slow
def test_foldrag_serve_with_two_workers_sees_every_new_generation(tmp_path):
    """`foldrag serve --workers 2`: two processes over one index; an ingest committed by another
    process reaches every worker without a restart."""
    import os
    import socket
    import subprocess
    import sys

    from tests.conftest import REPO, run_cli

    docs = write_docs(tmp_path / "docs")
    index = tmp_path / "notes"
    assert run_cli("ingest", str(docs), "--index", str(index), "-q").returncode == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLDRAG_")}
    env.update(FOLDRAG_GENERATION__MODEL="none", FOLDRAG_CONFIG=str(tmp_path / "none.toml"),
               FOLDRAG_EMBEDDING__BACKEND="torch")
    server = subprocess.Popen([sys.executable, "-m", "foldrag.cli", "serve", "--index", str(index), "--port", str(port),
                               "--workers", "2"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"

    def ready_everywhere() -> bool:
        try:  # fresh connections: the kernel hands each to either worker
            return all(httpx.get(url + "/readyz").status_code == 200 for _ in range(10))
        except httpx.HTTPError:
            return False

    try:
        assert until(ready_everywhere, 300), server.stdout.read() if server.poll() is not None else "not ready"
        workers = [p for p in Path("/proc").iterdir() if p.name.isdigit()
                   and _parent(p) == server.pid and "spawn_main" in _cmdline(p)]
        assert len(workers) == 2, [_cmdline(p) for p in workers]
        (docs / "mars.md").write_text("# Mars\n\nOlympus Mons is the tallest volcano on Mars.\n", encoding="utf-8")
        assert run_cli("ingest", str(docs), "--index", str(index), "-q").returncode == 0
        for _ in range(12):
            hits = httpx.post(url + "/v1/retrieve", json={"query": "Olympus Mons volcano"}).json()["hits"]
            assert hits[0]["source"] == "mars.md"
    finally:
        server.terminate()
        server.wait(timeout=30)


def _parent(proc: Path) -> int:
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return -1


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def test_a_crashed_job_reports_no_exception_text(tmp_path):
    from foldrag.api.jobs import JobRunner

    class Crashing:
        def ingest(self, folder, progress, within):
            raise RuntimeError("secret /home/me/.ssh path")

    runner = JobRunner(tmp_path)
    job = runner.submit("notes", Crashing(), tmp_path, within=())
    record = tmp_path / f"{job.id}.json"
    # the job is failed in memory, then recorded so: wait for the record too
    assert until(lambda: runner.get(job.id).to_json()["status"] == "failed" and '"failed"' in record.read_text())
    recorded = record.read_text()
    for shown in (str(runner.get(job.id).to_json()), recorded):
        assert "secret" not in shown and "RuntimeError" not in shown and "server log" in shown
    runner.shutdown()
