"""``create_app``: the FastAPI application of ``foldrag serve``.

Example::

    app = create_app(Settings.load())             # builds the collections from settings
    app = create_app(settings, collections=rags)  # or takes them (tests pass fakes)
    uvicorn.run(app)

``foldrag serve --workers N`` runs ``worker_app`` in each of N processes (uvicorn's factory).
"""

from __future__ import annotations

import json
import os
import threading
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.routing import Route

from foldrag.api.added_collections import AddedCollections
from foldrag.api.errors import install_error_handlers
from foldrag.api.guard import MCP_PATH, GuardMiddleware
from foldrag.api.mcp_server import HttpEndpoint, build_mcp, http_session
from foldrag.api.middleware import MetricsMiddleware
from foldrag.api.routes import (
    chat, collections, conversations, documents, health, ingest, query, sources, uploads, web, widget,
)
from foldrag.api.routes import server
from foldrag.api.state import ServerState
from foldrag.service import Foldrag
from foldrag.core.settings import Settings, default_conversations_path, default_data_path

if TYPE_CHECKING:
    from foldrag.build import CollectionBuilder


# What `foldrag serve --workers N` hands its worker processes (settings come as FOLDRAG_* variables).
WORKER_INDEXES_ENV = "FOLDRAG_SERVE_INDEXES"  # the --index folders, a JSON list
WORKER_JOBS_ENV = "FOLDRAG_SERVE_JOBS"  # the folder where ingest jobs record themselves for every worker


def worker_app() -> FastAPI:
    """The app of one worker process of ``foldrag serve --workers N``."""
    indexes = [Path(p) for p in json.loads(os.environ[WORKER_INDEXES_ENV])] if os.environ.get(WORKER_INDEXES_ENV) else None
    jobs = Path(os.environ[WORKER_JOBS_ENV]) if os.environ.get(WORKER_JOBS_ENV) else None
    return create_app(Settings.load(), indexes=indexes, job_records=jobs)


def create_app(settings: Settings | None = None, rags: dict[str, Foldrag] | None = None,
               *, indexes: list[Path] | None = None, job_records: Path | None = None,
               builder: CollectionBuilder | None = None) -> FastAPI:
    """The app over ``rags`` (name → Foldrag), or over those built from ``settings``
    (``indexes`` as given to ``foldrag serve --index``) and the ones made in the web app before.
    ``builder`` makes the collections the web app adds (given with ``rags``; built with the
    collections otherwise; without one, adding is refused). Models load in a thread at start-up;
    /readyz answers 503 until they are loaded."""
    settings = settings or Settings.load()
    added = AddedCollections(settings.server.collections_dir or default_data_path() / "collections")
    if rags is None:
        from foldrag.build import CollectionBuilder, collection_paths

        builder = builder or CollectionBuilder(settings)
        paths = collection_paths(settings, indexes)
        paths.update({name: path for name, path in added.load().items() if name not in paths})
        rags = {name: builder.make(path) for name, path in paths.items()}
    # jobs record themselves beside the conversations (the server's own files), so a restart finds them
    job_records = job_records or (settings.server.conversations or default_conversations_path()).parent / "jobs"
    state = ServerState(settings, rags, job_records, builder=builder, added=added)
    mcp = build_mcp(lambda request: server(request))  # the MCP endpoint sees the collections its key reaches

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        threading.Thread(target=state.load_models, name="foldrag-load", daemon=True).start()
        async with http_session(mcp):
            yield
        state.close()

    app = FastAPI(title="foldrag", version="0.1.0", lifespan=lifespan,
                  description="Local RAG over your documents: answers with citations, an OpenAI-compatible "
                  "endpoint, ingest jobs. Errors are always {\"error\": {\"type\", \"message\"}}.")
    app.state.foldrag = state
    install_error_handlers(app)
    for module in (health, query, chat, collections, ingest, documents, sources, uploads, conversations, web, widget):
        for router in (getattr(module, name) for name in ("router", "public", "private") if hasattr(module, name)):
            app.include_router(router)
    # /mcp: the Model Context Protocol over streamable HTTP, behind the same guard (Host, Origin, keys)
    app.router.routes.append(Route(MCP_PATH, endpoint=HttpEndpoint(mcp)))
    app.add_middleware(MetricsMiddleware, metrics=state.metrics)
    app.add_middleware(GuardMiddleware, settings=settings.server)  # host, origin, key: before any body is read
    if settings.server.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.server.cors_origins,
                           allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
                           allow_headers=["Authorization", "Content-Type"], expose_headers=["Retry-After"])
    return app
