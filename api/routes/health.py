"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from foldrag.api.routes import server
from foldrag.api.state import ServerState

public = APIRouter(tags=["health"])
private = APIRouter(tags=["health"])


@public.get("/healthz")
async def healthz() -> dict:
    """The process is up (models may still be loading)."""
    return {"status": "ok"}


@public.get("/readyz")
async def readyz(state: ServerState = Depends(server)):
    """200 once the models are loaded; 503 (``not_ready``, from the error table) before, or when loading failed."""
    state.require_ready()
    return {"status": "ready", "collections": list(state.collections)}


@private.get("/metrics")
async def metrics(state: ServerState = Depends(server)) -> Response:
    """Prometheus text: requests, latency per route and stage, tokens/s, queue depth, the chunk cache."""
    return Response(state.metrics.render(state.gate, state.cache_stats()), media_type=CONTENT_TYPE_LATEST)
