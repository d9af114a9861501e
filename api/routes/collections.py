"""GET /v1/collections."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool

from foldrag.api.routes import server
from foldrag.api.state import ServerState

router = APIRouter(tags=["collections"])


@router.get("/v1/collections")
async def collections(state: ServerState = Depends(server)) -> dict:
    """Each collection: its index folder and what it holds."""
    return {"collections": [await run_in_threadpool(rag.describe, name) for name, rag in state.collections.items()]}
