"""Helpers for API tests: a small indexed collection with fakes, and a real uvicorn on loopback."""

from __future__ import annotations

import functools

import threading
import time
from contextlib import contextmanager
from pathlib import Path

DOCS = {
    "france.md": "# France\n\nParis is the capital of France. The Eiffel Tower stands in Paris.\n",
    "fusion.md": "# Fusion\n\nReciprocal Rank Fusion combines ranked lists by summing one over k plus rank.\n",
    "korea.md": "# 한국\n\n서울은 대한민국의 수도이다. 한강이 서울을 흐른다.\n",
}


def write_docs(folder: Path, docs: dict[str, str] = DOCS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in docs.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@functools.cache
def shared_tokenizer():
    """One keyword tokenizer for the whole test session: Kiwi takes seconds to load, once."""
    from foldrag.core.tokenize import KeywordTokenizer

    return KeywordTokenizer()


def serve_settings(settings, **server):
    """Test settings for the API: 'hybrid' retrieval (no LLM rewrites) and the given server fields;
    the host name Starlette's TestClient sends is one the server answers to."""
    server.setdefault("allowed_hosts", ["testserver"])
    # conversations beside the test's index, never in the user's data folder
    server.setdefault("conversations", Path(settings.index.path).parent / "conversations.sqlite")
    server.setdefault("collections_dir", Path(settings.index.path).parent / "collections")
    return settings.model_copy(update={
        "retrieval": settings.retrieval.model_copy(update={"mode": "hybrid"}),
        "server": settings.server.model_copy(update=server),
    })


def fake_builder(settings, embedder, generator):
    """What makes the collections a test server adds, with the fakes."""
    from foldrag.build import CollectionBuilder

    return CollectionBuilder(settings, embedder=embedder, generator=generator, with_generator=generator is not None,
                             tokenizer=shared_tokenizer())


def make_collection(settings, embedder, generator, docs: Path | None = None):
    """A Foldrag over ``settings.index.path`` with the fakes, ingested from ``docs`` when given."""
    from foldrag.build import build_rag

    rag = build_rag(settings, embedder=embedder, generator=generator, with_generator=generator is not None,
                    tokenizer=shared_tokenizer())
    if docs is not None:
        rag.ingest(docs)
    return rag


def until(condition, timeout: float = 30.0) -> bool:
    """Wait for ``condition()`` to hold (polled against a deadline; never an ordering by sleep)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def wait_served(url: str, server, timeout: float = 300.0) -> None:
    """Wait until the ``foldrag serve`` process ``server`` answers /readyz at ``url`` (a separate
    process: its readiness can only be asked); fails with its output if it exits or the time runs out."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url + "/readyz").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert server.poll() is None and time.monotonic() < deadline, server.stdout.read()
        time.sleep(0.1)


def wait_ready(client, timeout: float = 30.0) -> None:
    assert until(lambda: client.get("/readyz").status_code == 200, timeout), "server never became ready"


@contextmanager
def live_server(app):
    """Run ``app`` on uvicorn at 127.0.0.1:<free port> in a thread; yields the base URL."""
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise AssertionError("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
