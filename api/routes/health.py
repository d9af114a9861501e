"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from foldrag.api.errors import error_body
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
    """200 once the models are loaded; 503 before, or when loading failed."""
    if state.load_error is not None:
        return JSONResponse(error_body("not_ready", f"models failed to load: {state.load_error}"), status_code=503)
    if not state.ready.is_set():
        return JSONResponse(error_body("not_ready", "loading models"), status_code=503)
    return {"status": "ready", "collections": list(state.collections)}


@private.get("/metrics")
async def metrics(state: ServerState = Depends(server)) -> Response:
    """Prometheus text: requests, latency per route and stage, tokens/s, queue depth."""
    return Response(state.metrics.render(state.gate), media_type=CONTENT_TYPE_LATEST)
