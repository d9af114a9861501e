"""Every JSON route of the OpenAPI document, fed generated bodies (hypothesis): never a 5xx, never an
exception's text — whatever the field values, strings with lone surrogates and NULs included."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from foldrag.api.app import create_app
from tests.fakes import HashEmbedder, LoopChat
from tests.server_support import make_collection, serve_settings, wait_ready, write_docs

# Any JSON value, its strings drawn from every code point (surrogates too: JSON can escape them).
TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=40)
JSON = st.recursive(st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=False) | TEXT,
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
                    max_leaves=12)


@pytest.fixture(scope="module")
def api(tmp_path_factory, request):
    from foldrag.core.settings import Settings

    tmp = tmp_path_factory.mktemp("fuzz")
    base = Settings.load(index={"path": tmp / "index"})
    cfg = serve_settings(base, allowed_roots=[tmp / "docs"])
    rag = make_collection(cfg, HashEmbedder(), LoopChat(), write_docs(tmp / "docs"))
    client = TestClient(create_app(cfg, {"docs": rag}), raise_server_exceptions=False)
    client.__enter__()
    wait_ready(client)
    yield client
    client.__exit__(None, None, None)


def _json_routes(client) -> list[tuple[str, list[str]]]:
    """(path, field names) of every POST route whose body is JSON, from the OpenAPI document."""
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    routes = []
    for path, methods in spec["paths"].items():
        body = methods.get("post", {}).get("requestBody", {}).get("content", {}).get("application/json")
        if body:
            ref = body["schema"]["$ref"].rsplit("/", 1)[-1]
            routes.append((path, list(schemas[ref].get("properties", {}))))
    return routes


def test_the_fuzzer_covers_the_json_routes(api):
    assert {path for path, _ in _json_routes(api)} == {"/v1/query", "/v1/retrieve", "/v1/chat/completions", "/v1/ingest",
                                                       "/v1/conversations", "/v1/uploads/ingest", "/v1/collections"}


def _check(response) -> None:
    assert response.status_code < 500, response.text[:300]
    text = response.text
    assert "Traceback" not in text and "Error(" not in text and "Exception" not in text, text[:300]


@hsettings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_generated_bodies_never_crash_a_route(api, data):
    for path, fields in _json_routes(api):
        # a body shaped like the route's (its own field names, any values), or any JSON at all
        shaped = data.draw(st.fixed_dictionaries({}, optional={f: JSON for f in fields}))
        for body in (shaped, data.draw(JSON)):
            _check(api.post(path, content=json.dumps(body), headers={"content-type": "application/json"}))
